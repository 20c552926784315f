using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>
/// Transposed 2-D convolution (torch.nn.ConvTranspose2d): weight [inChannels, outChannels / groups, k, k].
/// PyTorch's default initialisation takes the fan-in from weight dim 1, so the bound is
/// 1/sqrt(outChannels / groups · k²) for both weight and bias.
/// </summary>
public sealed class ConvTranspose2d : Layer
{
    public ConvTranspose2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int outputPadding = 0,
        int groups = 1, bool bias = true, int dilation = 1, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"ConvTranspose2d: 'groups' must divide inChannels ({inChannels}) and outChannels ({outChannels}), found {groups}", nameof(groups));
        generator ??= Generator.Default;
        Stride = stride;
        Padding = padding;
        OutputPadding = outputPadding;
        Groups = groups;
        Dilation = dilation;
        int fanIn = outChannels / groups * kernelSize * kernelSize;
        Weight = RegisterParameter("weight", Init.DefaultWeight([inChannels, outChannels / groups, kernelSize, kernelSize], fanIn, generator));
        Bias = bias ? RegisterParameter("bias", Init.DefaultWeight([outChannels], fanIn, generator)) : null;
    }

    public Tensor Weight { get; }

    public Tensor? Bias { get; }

    public int Stride { get; }

    public int Padding { get; }

    public int OutputPadding { get; }

    public int Groups { get; }

    public int Dilation { get; }

    public override Tensor Forward(Tensor input) => Functional.ConvTranspose2d(input, Weight, Bias, Stride, Padding, OutputPadding, Groups, Dilation);
}
