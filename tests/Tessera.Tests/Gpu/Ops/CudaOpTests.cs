using Tessera.Autograd;
using Tessera.Engine;
using F = Tessera.Autograd.Functional;
using static Tessera.Tests.Gpu.Ops.GpuOpCheck;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>
/// The GEMM and convolution ops on a real NVIDIA GPU against the CPU, at sizes the emulator cannot
/// afford (many tiles, long k, split-k weight gradients); skipped with the reason without a GPU.
/// </summary>
public class CudaOpTests
{
    private static readonly Device Cuda = Device.Parse("cuda");

    [CudaFact]
    public void MatmulLinearAndBmmOnDevice()
    {
        Compare("matmul 300x200x150", t => F.Matmul(t[0], t[1]), [Input(1, 300, 150), Input(2, 150, 200)], atol: 1e-4f, rtol: 1e-4f, device: Cuda);
        // 17 x 17 = 289 tiles of 128: the wide-tile kernel.
        Compare("matmul 2100x2100x64 (wide tile)", t => F.Matmul(t[0], t[1]), [Input(20, 2100, 64), Input(21, 64, 2100)], atol: 1e-4f, rtol: 1e-4f, device: Cuda);
        Compare("bmm of transposed views", t => F.Bmm(t[0].Transpose(1, 2), t[1]), [Input(3, 8, 129, 65), Input(4, 8, 129, 70)], atol: 1e-4f, rtol: 1e-4f, device: Cuda);
        Compare("linear", t => F.Linear(t[0], t[1], t[2]), [Input(5, 4, 33, 257), Input(6, 130, 257), Input(7, 130)], atol: 1e-4f, rtol: 1e-4f, device: Cuda);
    }

    [CudaFact]
    public void ConvolutionsOnDevice()
    {
        // 8 x 32 x 32 output pixels per image: k = 8192 for the weight gradient, which splits.
        Compare("conv2d 3x3", t => F.Conv2d(t[0], t[1], t[2], 1, padding: 1), [Input(8, 8, 16, 32, 32), Input(9, 70, 16, 3, 3), Input(10, 70)], atol: 1e-3f, rtol: 1e-4f, device: Cuda);
        Compare("conv2d strided grouped", t => F.Conv2d(t[0], t[1], null, 2, padding: 1, groups: 4), [Input(11, 4, 16, 17, 19), Input(12, 32, 4, 3, 3)], atol: 1e-3f, rtol: 1e-4f, device: Cuda);
        Compare("depthwise", t => F.Conv2d(t[0], t[1], null, 1, padding: 1, groups: 16), [Input(13, 4, 16, 20, 20), Input(14, 16, 1, 3, 3)], atol: 1e-3f, rtol: 1e-4f, device: Cuda);
        Compare("conv_transpose2d", t => F.ConvTranspose2d(t[0], t[1], t[2], 2, padding: 1, outputPadding: 1), [Input(15, 2, 16, 9, 9), Input(16, 16, 8, 3, 3), Input(17, 8)], atol: 1e-3f, rtol: 1e-4f, device: Cuda);
    }
}
