using Tessera.Engine.Random;
using Tessera.Kernels.Cpu;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>Every registered SGEMM variant against a double-precision triple loop, over edge shapes, transposes, alpha and beta.</summary>
public sealed unsafe class GemmVariantTests
{
    public static TheoryData<string> Variants()
    {
        var data = new TheoryData<string>();
        foreach (var v in GemmVariants.All.Where(v => v.IsSupported)) data.Add(v.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void MatchesTheTripleLoop(string name)
    {
        var variant = GemmVariants.All.Single(v => v.Name == name);
        var generator = new Generator(9);
        int[][] shapes = [[1, 1, 1], [5, 7, 3], [6, 32, 8], [7, 33, 300], [13, 31, 1], [64, 96, 257], [150, 70, 40], [3, 2100, 5]];
        foreach (var shape in shapes)
        {
            int m = shape[0], n = shape[1], k = shape[2];
            foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
            {
                foreach (var (alpha, beta) in new[] { (1f, 0f), (0.5f, 1f), (-2f, 0.25f) })
                {
                    var a = new float[m * k];
                    var b = new float[k * n];
                    int ldc = n + 3; // a padded C checks that ldc is honoured and padding untouched
                    var c = new float[m * ldc];
                    generator.Normal(a);
                    generator.Normal(b);
                    generator.Normal(c);
                    var expected = Reference(ta, tb, m, n, k, alpha, a, b, beta, c, ldc);
                    if (beta == 0f)
                        for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) c[i * ldc + j] = float.NaN; // must be ignored
                    fixed (float* pa = a, pb = b, pc = c)
                        variant.Run(ta, tb, m, n, k, alpha, pa, ta ? m : k, pb, tb ? k : n, beta, pc, ldc);
                    for (int i = 0; i < c.Length; i++)
                    {
                        float tolerance = 1e-4f * MathF.Sqrt(k) * (1f + MathF.Abs(expected[i]));
                        Assert.True(MathF.Abs(c[i] - expected[i]) <= tolerance,
                            $"{name} m={m} n={n} k={k} ta={ta} tb={tb} alpha={alpha} beta={beta}: c[{i}] = {c[i]}, expected {expected[i]}");
                    }
                }
            }
        }
    }

    /// <summary>
    /// The packed kernel splits work by thread count (row tasks; or, for few rows and a long K,
    /// B panels owned per thread, the last four cases, every transpose combination); every C
    /// element still sums K in the same order, so 1, 2 and 3 threads give the same bits.
    /// </summary>
    [Theory]
    [InlineData(256, 70, 300, false, false)]
    [InlineData(200, 40, 513, false, false)]
    [InlineData(1030, 33, 17, false, false)]
    [InlineData(9, 2000, 64, false, false)]
    [InlineData(37, 230, 1100, false, false)]
    [InlineData(37, 230, 1100, true, false)]
    [InlineData(37, 230, 1100, false, true)]
    [InlineData(37, 230, 1100, true, true)]
    public void PackedResultIsTheSameOnAnyThreadCount(int m, int n, int k, bool ta, bool tb)
    {
        if (!GemmAvx512Packed.IsSupported)
            return;
        var generator = new Generator(4);
        var a = new float[m * k];
        var b = new float[k * n];
        generator.Normal(a);
        generator.Normal(b);
        float[] Run(int threads)
        {
            var c = new float[m * n];
            using (Tessera.Engine.Threading.CpuParallel.WithThreads(threads))
            fixed (float* pa = a, pb = b, pc = c)
                GemmAvx512Packed.Run(ta, tb, m, n, k, 1f, pa, ta ? m : k, pb, tb ? k : n, 0f, pc, n);
            return c;
        }
        var serial = Run(1);
        var expected = Reference(ta, tb, m, n, k, 1f, a, b, 0f, new float[m * n], n);
        for (int i = 0; i < serial.Length; i++)
            Assert.True(MathF.Abs(serial[i] - expected[i]) <= 1e-4f * MathF.Sqrt(k) * (1f + MathF.Abs(expected[i])), $"c[{i}] = {serial[i]}, expected {expected[i]}");
        Assert.Equal(serial, Run(2));
        Assert.Equal(serial, Run(3));
    }

    private static float[] Reference(bool ta, bool tb, int m, int n, int k, float alpha, float[] a, float[] b, float beta, float[] c, int ldc)
    {
        var result = (float[])c.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                result[i * ldc + j] = (float)(alpha * sum + (beta == 0f ? 0.0 : (double)beta * c[i * ldc + j]));
            }
        return result;
    }
}
