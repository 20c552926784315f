using Tessera.Engine.Cuda;
using Tessera.Engine.Cuda.Emulator;
using Xunit;

namespace Tessera.Tests.Gpu;

/// <summary>The emulator's own guarantees: poisoning, bounds, races, rendezvous, atomics, driver errors.</summary>
public class EmulatorTests
{
    [Fact]
    public void FreshAllocationsAreNaN()
    {
        using var driver = new PtxEmulatorDriver();
        using var buffer = DeviceBuffer<float>.Allocate(driver, 8);
        Assert.All(buffer.ToArray(), v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void ShuffledThreadOrderExposesAMissingBarrier()
    {
        var method = typeof(TestKernels).GetMethod(nameof(TestKernels.RacyLastThreadSum))!;
        float[] x = Enumerable.Range(1, 64).Select(i => (float)i).ToArray();
        float RunWith(int? seed)
        {
            using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = seed });
            using var launcher = new KernelLauncher(driver);
            using var input = DeviceBuffer<float>.From(driver, x);
            using var output = DeviceBuffer<float>.Allocate(driver, 1);
            launcher.Launch(method, 1, 64, input, output);
            return output.ToArray()[0];
        }
        // In thread order the reading thread runs last and the race stays hidden...
        Assert.Equal(64 * 65 / 2, RunWith(null));
        // ...shuffled, it reads shared memory nobody wrote yet (NaN poison).
        Assert.True(float.IsNaN(RunWith(1)));
    }

    [Fact]
    public void ShuffledSlicesExposeANonAtomicIncrement()
    {
        int Count(int? seed, int atomically)
        {
            using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = seed });
            using var launcher = new KernelLauncher(driver);
            using var output = DeviceBuffer<int>.Allocate(driver, 1);
            launcher.Launch(typeof(TestKernels).GetMethod(nameof(TestKernels.CountThreads))!, 1, 128, output, atomically);
            return output.ToArray()[0];
        }
        Assert.Equal(4, Count(null, 0));     // the 32 lanes of a warp load, add and store together, as on the GPU: one increment per warp
        Assert.True(Count(7, 0) < 128);      // interleaved load/add/store of single threads lose increments too
        Assert.Equal(128, Count(7, 1));      // the atomic version is right under any schedule
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void ViewsOfEitherSpaceUseGenericAddresses(int useShared)
    {
        float[] x = Enumerable.Range(0, 64).Select(i => (float)i).ToArray();
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<float>.From(driver, x);
        using var output = DeviceBuffer<float>.Allocate(driver, 64);
        var kernel = Tessera.Engine.Compiler.KernelCompiler.Compile(typeof(TestKernels).GetMethod(nameof(TestKernels.MixedSpaces))!);
        Assert.Contains("cvta.shared.u64", kernel.Ptx, StringComparison.Ordinal);
        launcher.Launch(kernel, 1, 64, 0, input, useShared, output);
        Assert.Equal(x.Select(v => useShared != 0 ? 2 * v : v).ToArray(), output.ToArray());
        // The atomic went to global memory only when the view pointed there.
        Assert.Equal(useShared != 0 ? 0f : 64f, input.ToArray()[0]);
    }

    [Fact]
    public void SpinningThreadIsPreempted()
    {
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var flag = DeviceBuffer<int>.From(driver, [0]);
        using var output = DeviceBuffer<int>.From(driver, [0]);
        launcher.Launch(typeof(SpinKernels).GetMethod(nameof(SpinKernels.WaitForLastThread))!, 1, 64, flag, output);
        Assert.Equal(1, output.ToArray()[0]);
    }

    [Fact]
    public void DivergentBarrierAndShuffleDeadlockIsReported()
    {
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var output = DeviceBuffer<float>.Allocate(driver, 64);
        var error = Assert.Throws<PtxEmulatorException>(() => launcher.Launch(typeof(TestKernels).GetMethod(nameof(TestKernels.DivergentWarpOperations))!, 1, 64, output));
        Assert.Contains("deadlock", error.Message, StringComparison.Ordinal);
        Assert.Contains("shfl.sync", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShuffleModesFollowPtx()
    {
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var output = DeviceBuffer<int>.Allocate(driver, 256);
        launcher.Launch(typeof(TestKernels).GetMethod(nameof(TestKernels.ShuffleModes))!, 1, 64, output);
        int[] r = output.ToArray();
        for (int warp = 0; warp < 2; warp++)
            for (int lane = 0; lane < 32; lane++)
            {
                int w = warp * 128;
                Assert.Equal((lane + 3 <= 31 ? lane + 3 : lane) * 10, r[w + lane]);
                Assert.Equal((lane - 2 >= 0 ? lane - 2 : lane) * 10, r[w + 32 + lane]);
                Assert.Equal(50, r[w + 64 + lane]);
                Assert.Equal((lane ^ 7) * 10, r[w + 96 + lane]);
            }
    }

    [Fact]
    public void AtomicsAddMaxMinAndCompareExchange()
    {
        float[] values = GpuTestSupport.RandomFloats(200, 21, -5f, 5f);
        using var driver = new PtxEmulatorDriver(new PtxEmulatorOptions { ShuffleSeed = 4 });
        using var launcher = new KernelLauncher(driver);
        using var input = DeviceBuffer<float>.From(driver, values);
        using var sum = DeviceBuffer<float>.From(driver, [0f]);
        using var max = DeviceBuffer<float>.From(driver, [float.NegativeInfinity]);
        using var min = DeviceBuffer<int>.From(driver, [int.MaxValue]);
        using var maxInt = DeviceBuffer<int>.From(driver, [int.MinValue]);
        using var claims = DeviceBuffer<int>.From(driver, Enumerable.Repeat(-1, 8).ToArray());
        using var longSum = DeviceBuffer<long>.From(driver, [0L]);
        launcher.Launch(typeof(TestKernels).GetMethod(nameof(TestKernels.Atomics))!, 2, 128, input, sum, max, min, maxInt, claims, longSum);
        Assert.True(Math.Abs(sum.ToArray()[0] - values.Sum(v => (double)v)) < 1e-3);
        Assert.Equal(values.Max(), max.ToArray()[0]);
        Assert.Equal(values.Min(v => (int)(v * 1000f)), min.ToArray()[0]);
        Assert.Equal(values.Max(v => (int)(v * 1000f)), maxInt.ToArray()[0]);
        Assert.Equal(199L * 200 / 2, longSum.ToArray()[0]);
        int[] claimed = claims.ToArray();
        for (int slot = 0; slot < 8; slot++)
            Assert.True(claimed[slot] >= 0 && claimed[slot] % 8 == slot, $"slot {slot} claimed by {claimed[slot]}");
    }

    [Fact]
    public void LaunchArgumentsAreChecked()
    {
        using var driver = new PtxEmulatorDriver();
        using var launcher = new KernelLauncher(driver);
        using var output = DeviceBuffer<float>.Allocate(driver, 4);
        var method = typeof(Tessera.Kernels.Gpu.Samples.VectorAdd).GetMethod("Add")!;
        var count = Assert.Throws<ArgumentException>(() => launcher.Launch(method, 1, 32, output, output));
        Assert.Contains("takes 3 arguments", count.Message, StringComparison.Ordinal);
        var type = Assert.Throws<ArgumentException>(() => launcher.Launch(method, 1, 32, output, output, 3));
        Assert.Contains("DeviceSpan<Single>", type.Message, StringComparison.Ordinal);
        var block = Assert.Throws<CudaException>(() => launcher.Launch(method, 1, 2048, output, output, output));
        Assert.Contains("threads per block", block.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseAfterFreeAndBadCopiesAreReported()
    {
        using var driver = new PtxEmulatorDriver();
        DevicePointer p = driver.Allocate(16);
        driver.Memset(p, 0, 16);
        var bytes = new byte[16];
        driver.CopyToHost(bytes, p);
        Assert.All(bytes, b => Assert.Equal(0, b));
        Assert.Throws<PtxEmulatorException>(() => driver.CopyToHost(new byte[32], p));
        driver.Free(p);
        var error = Assert.Throws<PtxEmulatorException>(() => driver.CopyToHost(bytes, p));
        Assert.Contains("not inside any live allocation", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, driver.BytesInUse);
    }

    [Fact]
    public void RejectsPtxOutsideTheSubset()
    {
        using var driver = new PtxEmulatorDriver();
        var error = Assert.Throws<PtxEmulatorException>(() => driver.LoadModule(".version 7.8\n.target sm_80\n.address_size 64\n.visible .entry k(\n)\n{\n\ttex.2d.v4.f32.f32 {%f1}, [t, {%f2}];\n}\n"));
        Assert.Contains("tex", error.Message, StringComparison.Ordinal);
    }
}
