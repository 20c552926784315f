using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>y = x·Wᵀ + b, with PyTorch's default initialisation.</summary>
public sealed class Linear : Layer
{
    public Linear(int inFeatures, int outFeatures, bool bias = true, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        generator ??= Generator.Default;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", Init.DefaultWeight([outFeatures, inFeatures], inFeatures, generator));
        Bias = bias ? RegisterParameter("bias", Init.DefaultWeight([outFeatures], inFeatures, generator)) : null;
    }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    public Tensor Weight { get; }

    public Tensor? Bias { get; }

    public override Tensor Forward(Tensor input) => Functional.Linear(input, Weight, Bias);
}

/// <summary>Runs layers in order.</summary>
public sealed class Sequential : Layer
{
    private readonly List<Layer> _layers = new();

    public Sequential(params Layer[] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        foreach (var layer in layers) Add(layer);
    }

    public IReadOnlyList<Layer> Layers => _layers;

    public Sequential Add(Layer layer)
    {
        _layers.Add(RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer));
        return this;
    }

    public override Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var layer in _layers) x = layer.Forward(x);
        return x;
    }
}

/// <summary>A parameter-free layer from a function (ReLU, GELU, Flatten...).</summary>
public sealed class Lambda : Layer
{
    private readonly Func<Tensor, Tensor> _function;

    public Lambda(string name, Func<Tensor, Tensor> function)
    {
        Name = name;
        _function = function ?? throw new ArgumentNullException(nameof(function));
    }

    public string Name { get; }

    public override Tensor Forward(Tensor input) => _function(input);

    public static Lambda Relu() => new("ReLU", Functional.Relu);

    public static Lambda Gelu() => new("GELU", x => Functional.Gelu(x));

    public static Lambda Flatten(int startDim = 1) => new("Flatten", x => x.Flatten(startDim));
}
