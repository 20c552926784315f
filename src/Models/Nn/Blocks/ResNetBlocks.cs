using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Nn;

/// <summary>Convolution helpers with torchvision's ResNet initialisation.</summary>
public static class ConvInit
{
    /// <summary>A bias-free conv initialised kaiming_normal(mode = fan_out, relu), as torchvision's ResNet.</summary>
    public static Conv2d KaimingConv(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, bool bias = false, Generator? generator = null)
    {
        generator ??= Generator.Default;
        var conv = new Conv2d(inChannels, outChannels, kernelSize, stride, padding, dilation, bias: bias, generator: generator);
        InitRules.Assign(conv.Weight, Init.KaimingNormal(conv.Weight.ShapeArray, outChannels * kernelSize * kernelSize, generator));
        if (conv.Bias is not null) InitRules.Assign(conv.Bias, InitRules.Constant(conv.Bias.ShapeArray, 0f));
        return conv;
    }

    /// <summary>conv → BN → ReLU as one Sequential ("0", "1"), the unit of the segmentation heads.</summary>
    public static Sequential ConvBnRelu(int inChannels, int outChannels, int kernelSize, int padding = 0, int dilation = 1, Generator? generator = null) =>
        new(KaimingConv(inChannels, outChannels, kernelSize, padding: padding, dilation: dilation, generator: generator), new BatchNorm2d(outChannels), Lambda.Relu());
}

/// <summary>
/// torchvision's ResNet BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)) with 3x3
/// convs; the shortcut is "downsample" (1x1 conv + BN) when the stride or width changes.
/// </summary>
public sealed class BasicBlock : Layer
{
    /// <summary>Output channels per unit of width (1 for BasicBlock).</summary>
    public const int Expansion = 1;

    public BasicBlock(int inChannels, int planes, int stride = 1, Generator? generator = null)
    {
        Conv1 = RegisterModule("conv1", ConvInit.KaimingConv(inChannels, planes, 3, stride, 1, generator: generator));
        Bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        Conv2 = RegisterModule("conv2", ConvInit.KaimingConv(planes, planes, 3, 1, 1, generator: generator));
        Bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        if (stride != 1 || inChannels != planes * Expansion)
            Downsample = RegisterModule("downsample", new Sequential(ConvInit.KaimingConv(inChannels, planes * Expansion, 1, stride, generator: generator), new BatchNorm2d(planes * Expansion)));
        OutChannels = planes * Expansion;
    }

    public Conv2d Conv1 { get; }
    public BatchNorm2d Bn1 { get; }
    public Conv2d Conv2 { get; }
    public BatchNorm2d Bn2 { get; }
    public Sequential? Downsample { get; }
    public int OutChannels { get; }

    public override Tensor Forward(Tensor input)
    {
        var y = Bn1.Forward(Conv1.Forward(input)).Relu();
        y = Bn2.Forward(Conv2.Forward(y));
        var shortcut = Downsample?.Forward(input) ?? input;
        return (y + shortcut).Relu();
    }
}

/// <summary>
/// torchvision's ResNet Bottleneck (v1.5, stride on the 3x3): 1x1 → 3x3 → 1x1 (4x planes), each
/// with BN, ReLU after the first two and after the residual sum.
/// </summary>
public sealed class Bottleneck : Layer
{
    /// <summary>Output channels per unit of width (4 for Bottleneck).</summary>
    public const int Expansion = 4;

    public Bottleneck(int inChannels, int planes, int stride = 1, Generator? generator = null)
    {
        Conv1 = RegisterModule("conv1", ConvInit.KaimingConv(inChannels, planes, 1, generator: generator));
        Bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        Conv2 = RegisterModule("conv2", ConvInit.KaimingConv(planes, planes, 3, stride, 1, generator: generator));
        Bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        Conv3 = RegisterModule("conv3", ConvInit.KaimingConv(planes, planes * Expansion, 1, generator: generator));
        Bn3 = RegisterModule("bn3", new BatchNorm2d(planes * Expansion));
        if (stride != 1 || inChannels != planes * Expansion)
            Downsample = RegisterModule("downsample", new Sequential(ConvInit.KaimingConv(inChannels, planes * Expansion, 1, stride, generator: generator), new BatchNorm2d(planes * Expansion)));
        OutChannels = planes * Expansion;
    }

    public Conv2d Conv1 { get; }
    public BatchNorm2d Bn1 { get; }
    public Conv2d Conv2 { get; }
    public BatchNorm2d Bn2 { get; }
    public Conv2d Conv3 { get; }
    public BatchNorm2d Bn3 { get; }
    public Sequential? Downsample { get; }
    public int OutChannels { get; }

    public override Tensor Forward(Tensor input)
    {
        var y = Bn1.Forward(Conv1.Forward(input)).Relu();
        y = Bn2.Forward(Conv2.Forward(y)).Relu();
        y = Bn3.Forward(Conv3.Forward(y));
        var shortcut = Downsample?.Forward(input) ?? input;
        return (y + shortcut).Relu();
    }
}
