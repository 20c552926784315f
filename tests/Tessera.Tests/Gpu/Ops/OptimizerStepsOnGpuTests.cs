using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Optim;
using Xunit;

namespace Tessera.Tests.Gpu.Ops;

/// <summary>A few optimiser steps and gradient clipping with parameters on cuda-emu equal the CPU steps.</summary>
public sealed class OptimizerStepsOnGpuTests
{
    private static readonly Device Emu = Device.Parse("cuda-emu");

    private static Tensor[] Parameters(Device device) =>
    [
        Tensor.Randn([5, 7], new Generator(1)).To(device).RequireGrad(),
        Tensor.Randn([300], new Generator(2)).To(device).RequireGrad(),
    ];

    /// <summary>Steps the optimiser with the same pseudo-random gradients each step; returns the final parameters.</summary>
    private static float[][] Train(Device device, Func<Tensor[], Optimizer> create, int steps, float? clip = null)
    {
        var parameters = Parameters(device);
        var optimizer = create(parameters);
        for (int s = 0; s < steps; s++)
        {
            for (int i = 0; i < parameters.Length; i++)
                parameters[i].Grad = Tensor.Randn(parameters[i].Shape, new Generator((ulong)(100 + 10 * s + i))).To(device);
            if (clip is float maxNorm)
                GradientClipping.ClipNorm(parameters, maxNorm);
            optimizer.Step();
        }
        return parameters.Select(p => p.ToArray()).ToArray();
    }

    public static TheoryData<string> Optimisers => ["sgd", "sgd_momentum", "sgd_nesterov", "adamw", "adamw_clipped"];

    [Theory]
    [MemberData(nameof(Optimisers))]
    public void StepsOnTheEmulatorEqualCpuSteps(string name)
    {
        Func<Tensor[], Optimizer> create = name switch
        {
            "sgd" => p => new Sgd(p, 0.1f, weightDecay: 0.01f),
            "sgd_momentum" => p => new Sgd(p, 0.05f, momentum: 0.9f, dampening: 0.1f, weightDecay: 1e-3f),
            "sgd_nesterov" => p => new Sgd(p, 0.05f, momentum: 0.8f, weightDecay: 1e-2f, nesterov: true),
            _ => p => new AdamW(p, 1e-2f, weightDecay: 0.05f),
        };
        float? clip = name == "adamw_clipped" ? 3f : null;
        var cpu = Train(Device.Cpu, create, 4, clip);
        var gpu = Train(Emu, create, 4, clip);
        for (int i = 0; i < cpu.Length; i++)
            GpuTestSupport.AssertClose(cpu[i], gpu[i], 1e-6f, 0f, $"{name} parameter {i} after 4 steps");
    }

    [Fact]
    public void ClipNormOnTheEmulatorMatchesCpu()
    {
        float[] Clip(Device device, out float norm)
        {
            var parameters = Parameters(device);
            for (int i = 0; i < parameters.Length; i++)
                parameters[i].Grad = Tensor.Randn(parameters[i].Shape, new Generator((ulong)(50 + i))).To(device);
            norm = GradientClipping.ClipNorm(parameters, 2f);
            return [.. parameters[0].Grad!.ToArray(), .. parameters[1].Grad!.ToArray()];
        }
        var cpu = Clip(Device.Cpu, out float cpuNorm);
        var gpu = Clip(Emu, out float gpuNorm);
        Assert.True(Math.Abs(cpuNorm - gpuNorm) <= 1e-6f * cpuNorm, $"norm {gpuNorm}, expected {cpuNorm}");
        Assert.True(cpuNorm > 2f);
        GpuTestSupport.AssertClose(cpu, gpu, 1e-7f, 1e-6f, "clipped gradients");
    }
}
