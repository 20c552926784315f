using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>2-D convolution layer (NCHW) with PyTorch's default initialisation.</summary>
public sealed class Conv2d : Layer
{
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1, bool bias = true, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv2d: 'groups' must divide inChannels ({inChannels}) and outChannels ({outChannels}), found {groups}", nameof(groups));
        generator ??= Generator.Default;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        Groups = groups;
        int fanIn = inChannels / groups * kernelSize * kernelSize;
        Weight = RegisterParameter("weight", Init.DefaultWeight([outChannels, inChannels / groups, kernelSize, kernelSize], fanIn, generator));
        Bias = bias ? RegisterParameter("bias", Init.DefaultWeight([outChannels], fanIn, generator)) : null;
    }

    public Tensor Weight { get; }

    public Tensor? Bias { get; }

    public int Stride { get; }

    public int Padding { get; }

    public int Dilation { get; }

    public int Groups { get; }

    public override Tensor Forward(Tensor input) => Functional.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups);
}

/// <summary>Max pooling layer.</summary>
public sealed class MaxPool2d(int kernelSize, int? stride = null, int padding = 0) : Layer
{
    public override Tensor Forward(Tensor input) => Functional.MaxPool2d(input, kernelSize, stride, padding);
}
