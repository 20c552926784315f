using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Nn;

namespace Tessera.Models.Systems.XLearner;

/// <summary>How the sub-backbones of an expanded backbone are joined in the joint phase.</summary>
public enum ReconciliationKind
{
    /// <summary>No reconciliation layers ("w/o Rec"): the sub-backbones stay apart; joint training changes nothing but the schedule.</summary>
    None,

    /// <summary>X-Learner: layer i of task t receives every other task's layers j ≤ i (gamma_b then (i − j) strided gamma_a).</summary>
    BottomUp,

    /// <summary>X-Learner_t: layer i of task t receives every other task's layers j ≥ i (gamma_b then (j − i) gamma_c = upsample + conv).</summary>
    TopDown,
}

/// <summary>Glorot (Xavier uniform) initialisation of the reconciliation convs, as the paper's implementation details say.</summary>
internal static class GlorotConv
{
    public static Conv2d Create(int inChannels, int outChannels, int kernelSize, int stride, int padding, Generator generator)
    {
        var conv = new Conv2d(inChannels, outChannels, kernelSize, stride, padding, bias: false, generator: generator);
        int receptive = kernelSize * kernelSize;
        InitRules.Assign(conv.Weight, Init.XavierUniform(conv.Weight.ShapeArray, inChannels * receptive, outChannels * receptive, generator));
        return conv;
    }
}

/// <summary>gamma_b: the same-layer transform at the start of every reconciliation layer, Conv1x1 + BN (channels kept).</summary>
public sealed class GammaB : Layer
{
    public GammaB(int channels, Generator generator)
    {
        Channels = channels;
        Conv = RegisterModule("conv", GlorotConv.Create(channels, channels, 1, 1, 0, generator));
        Bn = RegisterModule("bn", new BatchNorm2d(channels));
    }

    public int Channels { get; }

    public Conv2d Conv { get; }

    public BatchNorm2d Bn { get; }

    public override Tensor Forward(Tensor input) => Bn.Forward(Conv.Forward(input));
}

/// <summary>
/// gamma_a: one cross-layer step down the hierarchy, ReLU → Conv3x3 stride 2 (channels of layer m
/// to those of layer m + 1) → BN, so a chain of them maps layer j's map to layer i's stride and width.
/// </summary>
public sealed class GammaA : Layer
{
    public GammaA(int inChannels, int outChannels, Generator generator)
    {
        InChannels = inChannels;
        OutChannels = outChannels;
        Conv = RegisterModule("conv", GlorotConv.Create(inChannels, outChannels, 3, 2, 1, generator));
        Bn = RegisterModule("bn", new BatchNorm2d(outChannels));
    }

    public int InChannels { get; }

    public int OutChannels { get; }

    public Conv2d Conv { get; }

    public BatchNorm2d Bn { get; }

    public override Tensor Forward(Tensor input) => Bn.Forward(Conv.Forward(input.Relu()));
}

/// <summary>
/// gamma_c (X-Learner_t): one step up the hierarchy, ReLU → nearest upsample x2 → Conv3x3
/// (channels of layer m to those of layer m − 1) → BN.
/// </summary>
public sealed class GammaC : Layer
{
    public GammaC(int inChannels, int outChannels, Generator generator)
    {
        InChannels = inChannels;
        OutChannels = outChannels;
        Conv = RegisterModule("conv", GlorotConv.Create(inChannels, outChannels, 3, 1, 1, generator));
        Bn = RegisterModule("bn", new BatchNorm2d(outChannels));
    }

    public int InChannels { get; }

    public int OutChannels { get; }

    public Conv2d Conv { get; }

    public BatchNorm2d Bn { get; }

    public override Tensor Forward(Tensor input) => Bn.Forward(Conv.Forward(Functional.Interpolate(input.Relu(), 2.0)));
}

/// <summary>
/// One reconciliation layer gamma_{j→i}^{k→t}: gamma_b on layer j's map of task k, then |i − j|
/// gamma_a (bottom-up, j &lt; i) or gamma_c (top-down, j &gt; i) steps to reach layer i of task t.
/// Its input is detached by the caller (<see cref="ExpandedBackbone"/>): task t's loss trains the
/// layer but never reaches sub-backbone k. State-dict names: "b", "steps.0", "steps.1", ...
/// </summary>
public sealed class ReconciliationLayer : Layer
{
    private readonly ModuleList<Layer> _steps;

    /// <param name="layerChannels">Channels of each layer of the sub-backbones (finest first).</param>
    /// <param name="from">Source layer j (0-based).</param>
    /// <param name="to">Target layer i (0-based).</param>
    /// <param name="generator">Initialisation stream.</param>
    public ReconciliationLayer(IReadOnlyList<int> layerChannels, int from, int to, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(layerChannels);
        if ((uint)from >= (uint)layerChannels.Count || (uint)to >= (uint)layerChannels.Count)
            throw new ArgumentOutOfRangeException(nameof(from), $"ReconciliationLayer: layers expected in 0..{layerChannels.Count - 1}, found {from}→{to}");
        FromLayer = from;
        ToLayer = to;
        B = RegisterModule("b", new GammaB(layerChannels[from], generator));
        _steps = RegisterModule("steps", new ModuleList<Layer>());
        if (from <= to)
            for (int m = from; m < to; m++) _steps.Add(new GammaA(layerChannels[m], layerChannels[m + 1], generator));
        else
            for (int m = from; m > to; m--) _steps.Add(new GammaC(layerChannels[m], layerChannels[m - 1], generator));
    }

    /// <summary>Source layer j (0-based).</summary>
    public int FromLayer { get; }

    /// <summary>Target layer i (0-based).</summary>
    public int ToLayer { get; }

    public GammaB B { get; }

    /// <summary>The gamma_a (bottom-up) or gamma_c (top-down) steps after gamma_b: |ToLayer − FromLayer| of them.</summary>
    public IReadOnlyList<Layer> Steps => _steps;

    public override Tensor Forward(Tensor input)
    {
        var x = B.Forward(input);
        foreach (var step in _steps) x = step.Forward(x);
        return x;
    }

    /// <summary>Name of gamma_{j→i}^{k→t} in the state dict (1-based layers as in the paper's equation).</summary>
    public static string Key(string fromTask, string toTask, int from, int to) => $"{fromTask}_to_{toTask}_{from + 1}_to_{to + 1}";

    internal static void CheckSameShape(Tensor a, Tensor b, string what)
    {
        if (!Shapes.Equal(a.Shape, b.Shape))
            throw new TensorShapeException($"reconciliation {what}: expected the target layer's shape {Shapes.Format(a.Shape)}, found {Shapes.Format(b.Shape)}; the sub-backbones' layers must halve the resolution from one layer to the next");
    }
}
