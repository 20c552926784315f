using Tessera.Autograd;
using Xunit;
using F = Tessera.Autograd.Functional;
using static Tessera.Tests.Gpu.Ops.GpuOpCheck;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>Matmul, bmm and linear on cuda-emu against the CPU, forward and backward, through the Functional ops.</summary>
public class MatmulGpuOpTests
{
    [Fact]
    public void MatmulFlattensLeadingRowsAndBackpropagates() =>
        Compare("matmul [2,3,5,4]·[4,6]", t => F.Matmul(t[0], t[1]), [Input(1, 2, 3, 5, 4), Input(2, 4, 6)]);

    [Fact]
    public void BmmOverTransposedViews() =>
        // Both operands are transposed views (no copy): the kernel reads them through their strides.
        Compare("bmm of transposed views", t => F.Bmm(t[0].Transpose(1, 2), t[1].Transpose(1, 2)), [Input(3, 3, 4, 5), Input(4, 3, 7, 4)]);

    [Fact]
    public void VectorProductsAndEdgeTiles()
    {
        Compare("vector · matrix", t => F.Matmul(t[0], t[1]), [Input(5, 67), Input(6, 67, 66)]);
        Compare("matrix · vector", t => F.Matmul(t[0], t[1]), [Input(7, 65, 3), Input(8, 3)]);
        Compare("dot", t => F.Matmul(t[0], t[1]), [Input(9, 17), Input(10, 17)]);
    }

    [Fact]
    public void BroadcastBatchesReadStrideZero() =>
        // [2, 1, 5, 4] · [3, 4, 6] → [2, 3, 5, 6]: a's middle batch and b's outer batch are broadcast (forward only:
        // the gradients of broadcast operands are sums, a reduction outside this family).
        Compare("broadcast matmul", t => F.Matmul(t[0], t[1]), [Input(11, 2, 1, 5, 4), Input(12, 3, 4, 6)], backward: false);

    [Fact]
    public void ManyBatchDimsLoopOverTheLeadingOnes() =>
        // A permuted batch layout that cannot merge into two levels: [2, 2, 2, m, k] with the batch dims permuted.
        Compare("3 unmergeable batch dims", t => F.Matmul(t[0].Permute(2, 0, 1, 3, 4), t[1]), [Input(13, 2, 2, 2, 3, 4), Input(14, 2, 2, 2, 4, 5)]);

    [Fact]
    public void LinearWithAndWithoutBias()
    {
        Compare("linear with bias", t => F.Linear(t[0], t[1], t[2]), [Input(15, 2, 3, 7), Input(16, 5, 7), Input(17, 5)]);
        Compare("linear without bias", t => F.Linear(t[0], t[1]), [Input(18, 4, 7), Input(19, 70, 7)]);
    }
}
