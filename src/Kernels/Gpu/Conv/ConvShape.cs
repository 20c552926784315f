using Tessera.Kernels.Cpu;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// The sizes of one 2-d convolution as a kernel parameter (its fields become scalar .params): the
/// same meaning as <see cref="Conv2dGeometry"/>, input [batch, inChannels, inHeight, inWidth] →
/// output [batch, outChannels, outHeight, outWidth], weight [outChannels, inChannels / groups, kH, kW].
/// </summary>
public struct ConvShape
{
    public int BatchSize;
    public int InChannels;
    public int InHeight;
    public int InWidth;
    public int OutChannels;
    public int OutHeight;
    public int OutWidth;
    public int KernelHeight;
    public int KernelWidth;
    public int StrideHeight;
    public int StrideWidth;
    public int PaddingHeight;
    public int PaddingWidth;
    public int DilationHeight;
    public int DilationWidth;
    public int Groups;

    /// <summary>The kernel parameter for a CPU geometry.</summary>
    public static ConvShape From(in Conv2dGeometry g) => new()
    {
        BatchSize = g.BatchSize, InChannels = g.InChannels, InHeight = g.InHeight, InWidth = g.InWidth,
        OutChannels = g.OutChannels, OutHeight = g.OutHeight, OutWidth = g.OutWidth,
        KernelHeight = g.KernelHeight, KernelWidth = g.KernelWidth, StrideHeight = g.StrideHeight, StrideWidth = g.StrideWidth,
        PaddingHeight = g.PaddingHeight, PaddingWidth = g.PaddingWidth, DilationHeight = g.DilationHeight, DilationWidth = g.DilationWidth,
        Groups = g.Groups,
    };
}
