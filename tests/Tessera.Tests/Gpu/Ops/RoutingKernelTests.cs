using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Tessera.Engine.Gpu;
using Tessera.Engine.Random;
using Tessera.Kernels.Gpu;
using Xunit;
using Cpu = Tessera.Kernels.Cpu;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>A test-only kernel: the raw Philox outputs of blocks firstBlock….</summary>
public static class PhiloxTestKernel
{
    [Kernel]
    public static void PhiloxBits(ulong seed, ulong firstBlock, DeviceSpan<uint> bits)
    {
        if (!Elementwise.Index(bits.Length / 4, out int b))
            return;
        GpuPhilox.Block(seed, firstBlock + (ulong)b, out uint x0, out uint x1, out uint x2, out uint x3);
        bits[4 * b] = x0;
        bits[4 * b + 1] = x1;
        bits[4 * b + 2] = x2;
        bits[4 * b + 3] = x3;
    }
}

/// <summary>Philox, Gumbel noise and softmax, routed combine and dropout masks on the PTX emulator against the CPU kernels.</summary>
public class RoutingKernelTests
{
    [Fact]
    public void PhiloxOnTheEmulatorGivesTheGeneratorsBits()
    {
        const ulong seed = 0x1234_5678_9ABC_DEF0UL, first = 0xFFFF_FFF0UL;   // the counter carries into its high word
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var bits = DeviceBuffer<uint>.Allocate(driver, 4 * 64);
        launcher.Launch(typeof(PhiloxTestKernel).GetMethod(nameof(PhiloxTestKernel.PhiloxBits))!, 1, 64, seed, first, bits);
        var generator = new Generator(seed);
        generator.SetState(seed, first);
        var expected = new uint[4 * 64];
        generator.Bits(expected);
        Assert.Equal(expected, bits.ToArray());
    }

    [Fact]
    public void GumbelOfEveryUniformMatchesTheCpuFormula()
    {
        // All 2^24 uniforms the 24-bit draw can give: the device's double log (fdlibm) against Math.Log.
        // Exactly one differs, by one float ulp: u = 6172382.5 / 2^24 (close to 1/e), where log(u) lies
        // 0.46 ulp from a double midpoint, fdlibm rounds it the other way, and the outer log of
        // -log(u) ≈ 1 amplifies that last bit.
        var differing = new List<uint>();
        int worstUlps = 0;
        for (uint top = 0; top < 1u << 24; top++)
        {
            uint bits = top << 8;
            float cpu = (float)-Math.Log(-Math.Log(((bits >> 8) + 0.5) * (1.0 / 16777216.0)));
            int ulps = Math.Abs(BitConverter.SingleToInt32Bits(cpu) - BitConverter.SingleToInt32Bits(GpuPhilox.GumbelFromBits(bits)));
            if (ulps != 0)
                differing.Add(top);
            worstUlps = Math.Max(worstUlps, ulps);
        }
        Assert.True(differing.Count <= 1 && worstUlps <= 1, $"{differing.Count} of 2^24 uniforms give different noise (worst {worstUlps} ulps), first at {(differing.Count > 0 ? differing[0] : 0)}");
    }

    [Fact]
    public unsafe void NoiseAndDropoutMasksAreTheCpusForTheSameSeedAndOffset()
    {
        const int count = 1001;
        var generator = new Generator(20251122);
        generator.Reserve(37);   // a stream already in use: a non-zero offset
        var (seed, offset) = generator.GetState();
        var cpuNoise = new float[count];
        var cpuMask = new float[count];
        fixed (float* n = cpuNoise, m = cpuMask)
        {
            Cpu.Gumbel.Noise(seed, offset, count, n);
            Cpu.Dropout.BernoulliMask(seed, offset, 0.7f, 1f / 0.7f, count, m);
        }
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 2 });
        using var launcher = new KernelLauncher(driver);
        using var noise = DeviceBuffer<float>.Allocate(driver, count);
        using var mask = DeviceBuffer<float>.Allocate(driver, count);
        GpuRouting.GumbelNoise(launcher, seed, offset, noise.View);
        GpuRouting.BernoulliMask(launcher, seed, offset, 0.7f, 1f / 0.7f, mask.View);
        OpsAssert.Identical(cpuNoise, noise.ToArray(), "Gumbel noise");
        OpsAssert.Identical(cpuMask, mask.ToArray(), "dropout mask");
        Assert.InRange(cpuMask.Count(v => v != 0f), 600, 800);
    }

    [Theory]
    [InlineData(4, 6, 1, 0.5f)]    // softmax along the last dim
    [InlineData(1, 4, 6, 1f)]      // along dim 0 of [4, 6]
    [InlineData(2, 5, 3, 5f)]      // a middle dim
    [InlineData(3, 1, 1, 1f)]      // one choice
    public unsafe void GumbelSoftmaxMatchesTheCpuKernel(int outer, int size, int inner, float tau)
    {
        int count = outer * size * inner;
        float[] logits = GpuTestSupport.RandomFloats(count, 21, -3f, 3f);
        float[] noise = GpuTestSupport.RandomFloats(count, 22, -1f, 4f);
        float[] gradOutput = GpuTestSupport.RandomFloats(count, 23);
        logits[0] = logits[Math.Min(inner, count - 1)] = 1.5f;   // a tie when the noise ties too
        noise[0] = noise[Math.Min(inner, count - 1)] = 0.25f;
        var soft = new float[count];
        var hard = new float[count];
        var gradLogits = new float[count];
        fixed (float* l = logits, n = noise, s = soft, h = hard, g = gradOutput, gl = gradLogits)
        {
            Cpu.Gumbel.SoftmaxForward(l, n, outer, size, inner, tau, s, h);
            Cpu.Gumbel.SoftmaxBackward(s, g, outer, size, inner, tau, gl);
        }
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 4 });
        using var launcher = new KernelLauncher(driver);
        using var dl = DeviceBuffer<float>.From(driver, logits);
        using var dn = DeviceBuffer<float>.From(driver, noise);
        using var dg = DeviceBuffer<float>.From(driver, gradOutput);
        using var ds = DeviceBuffer<float>.Allocate(driver, count);
        using var dh = DeviceBuffer<float>.Allocate(driver, count);
        using var dgl = DeviceBuffer<float>.Allocate(driver, count);
        GpuRouting.GumbelSoftmaxForward(launcher, dl.View, dn.View, outer, size, inner, tau, ds.View, dh.View);
        // From the CPU's soft sample, so the backward is checked on its own.
        using var cpuSoft = DeviceBuffer<float>.From(driver, soft);
        GpuRouting.GumbelSoftmaxBackward(launcher, cpuSoft.View, dg.View, outer, size, inner, tau, dgl.View);
        OpsAssert.Close(soft, ds.ToArray(), 1e-6f, 2e-6f, "gumbel soft sample");
        Assert.Equal(hard, dh.ToArray());
        OpsAssert.Identical(gradLogits, dgl.ToArray(), "gumbel softmax backward");
    }

    [Theory]
    [InlineData(4, 3, 5)]       // weights [N, K]
    [InlineData(1, 3, 10)]      // weights [K]: one row
    [InlineData(2, 2, 300)]     // rows longer than a block
    public unsafe void RoutedCombineMatchesTheCpuKernel(int rowCount, int unitCount, int rowLength)
    {
        int unitSize = rowCount * rowLength;
        float[] units = GpuTestSupport.RandomFloats(unitCount * unitSize, 31);
        float[] weights = GpuTestSupport.RandomFloats(rowCount * unitCount, 32, 0f, 1f);
        float[] gradOutput = GpuTestSupport.RandomFloats(unitSize, 33);
        var output = new float[unitSize];
        var gradUnits = new float[units.Length];
        var gradWeights = new float[weights.Length];
        fixed (float* u = units, w = weights, o = output, g = gradOutput, gu = gradUnits, gw = gradWeights)
        {
            var unitPointers = new float*[unitCount];
            var gradPointers = new float*[unitCount];
            for (int k = 0; k < unitCount; k++)
            {
                unitPointers[k] = u + k * unitSize;
                gradPointers[k] = gu + k * unitSize;
            }
            Cpu.RoutedCombine.Forward(unitPointers, w, rowCount, rowLength, o);
            Cpu.RoutedCombine.Backward(unitPointers, w, g, rowCount, rowLength, gradPointers, gw);
        }
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 6 });
        using var launcher = new KernelLauncher(driver);
        using var du = DeviceBuffer<float>.From(driver, units);
        using var dw = DeviceBuffer<float>.From(driver, weights);
        using var dg = DeviceBuffer<float>.From(driver, gradOutput);
        using var stacked = DeviceBuffer<float>.Allocate(driver, unitSize);
        using var oneByOne = DeviceBuffer<float>.Allocate(driver, unitSize);
        using var dgu = DeviceBuffer<float>.Allocate(driver, units.Length);
        using var dgw = DeviceBuffer<float>.Allocate(driver, weights.Length);
        using var dgwList = DeviceBuffer<float>.Allocate(driver, weights.Length);
        GpuRouting.Combine(launcher, du.View, dw.View, 0, unitCount, unitCount, rowCount, rowLength, false, stacked.View);
        for (int k = 0; k < unitCount; k++)
        {
            GpuRouting.Combine(launcher, du.View.Slice(k * unitSize, unitSize), dw.View, k, 1, unitCount, rowCount, rowLength, k > 0, oneByOne.View);
            GpuRouting.GradWeights(launcher, dg.View, du.View.Slice(k * unitSize, unitSize), k, 1, unitCount, rowCount, rowLength, dgwList.View);
        }
        GpuRouting.GradUnits(launcher, dg.View, dw.View, 0, unitCount, rowCount, rowLength, dgu.View);
        GpuRouting.GradWeights(launcher, dg.View, du.View, 0, unitCount, unitCount, rowCount, rowLength, dgw.View);
        OpsAssert.Close(output, stacked.ToArray(), 0f, 0f, "routed combine (stacked)");
        OpsAssert.Close(output, oneByOne.ToArray(), 0f, 0f, "routed combine (unit by unit)");
        OpsAssert.Identical(gradUnits, dgu.ToArray(), "routed combine gradUnits");
        OpsAssert.Close(gradWeights, dgw.ToArray(), 1e-5f, 1e-5f, "routed combine gradWeights (stacked)");
        OpsAssert.Close(gradWeights, dgwList.ToArray(), 1e-5f, 1e-5f, "routed combine gradWeights (unit by unit)");
    }
}
