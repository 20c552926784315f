using Tessera.Kernels.Cpu;
using Xunit;

namespace Tessera.Tests.Kernels;

public sealed unsafe class FastExpTests
{
    [Fact]
    public void RelativeErrorIsBelowTwoTenthsOfAMillionth()
    {
        const int Count = 200_003; // not a multiple of 16: the scalar tail runs too
        var values = new float[Count];
        for (int i = 0; i < Count; i++) values[i] = -87f * i / (Count - 1);
        var expected = values.Select(v => Math.Exp(v)).ToArray();
        double sum;
        fixed (float* p = values) sum = FastExp.ExpShiftedSum(p, Count, 0f);
        double worst = 0;
        for (int i = 0; i < Count; i++) worst = Math.Max(worst, Math.Abs(values[i] - expected[i]) / expected[i]);
        Assert.True(worst < 3e-7, $"max relative error {worst:g3}");
        Assert.True(Math.Abs(sum - expected.Sum()) <= 1e-5 * expected.Sum(), $"sum {sum}, expected {expected.Sum()}");
    }

    [Fact]
    public void ShiftedRowsUnderflowToZeroAndTheMaximumGivesOne()
    {
        var row = new float[] { 5f, 5f - 100f, float.NegativeInfinity, 4f, 5f, 0f, 1f, 2f, 3f, 5f, 5f, 5f, 5f, 5f, 5f, 5f, 5f };
        fixed (float* p = row) FastExp.ExpShiftedSum(p, row.Length, 5f);
        Assert.Equal(1f, row[0]);
        Assert.Equal(0f, row[1]);
        Assert.Equal(0f, row[2]);
        Assert.Equal(MathF.Exp(-1f), row[3], 6);
    }
}
