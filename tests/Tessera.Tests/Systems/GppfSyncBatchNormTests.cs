using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Systems.Gppf;
using Tessera.Models.Training;
using Tessera.Tests.Goldens;
using Xunit;
using F = Tessera.Autograd.Functional;

namespace Tessera.Tests.Systems;

/// <summary>
/// Cross-task SyncBN in the GPPF setting: virtual devices with different input sizes (the SIMT
/// group, <see cref="DeviceStatisticsGroup"/>) normalise as one batch norm over the union of their
/// values, forward and backward; under hard routing (<see cref="UnitSlotReducer"/>) each unit's
/// batch norm combines exactly the devices that ran that unit.
/// </summary>
public sealed class GppfSyncBatchNormTests
{
    private const int Channels = 3;
    private static readonly Tolerance Close = new(2e-5f, 1e-4f);

    private sealed record DeviceRun(Tensor Input, Tensor Output, bool Owner);

    private static DeviceRun[] RunDevices(Tensor[] inputs, Tensor[] gradOutputs, Func<int, IBatchStatisticsReducer, (IBatchStatisticsReducer Reducer, bool Owner)> wrap)
    {
        var group = new DeviceStatisticsGroup(inputs.Length);
        var results = new DeviceRun[inputs.Length];
        var errors = new Exception?[inputs.Length];
        var threads = Enumerable.Range(0, inputs.Length).Select(d => new Thread(() =>
        {
            try
            {
                var (reducer, owner) = wrap(d, group.Reducer(d));
                var x = inputs[d].Detach().RequireGrad();
                var y = F.BatchNorm(x, null, null, training: true, reducer: reducer);
                F.Sum(y * gradOutputs[d]).Backward();
                results[d] = new DeviceRun(x, y, owner);
                group.Finish(d);
            }
            catch (Exception e)
            {
                errors[d] = e;
                group.Abort(d, e);
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        Assert.All(errors, e => Assert.Null(e));
        return results;
    }

    /// <summary>Batch norm over the union of differently shaped [N, C, H, W] tensors: each as [C, N·H·W], concatenated, as [1, C, Σ].</summary>
    private static (Tensor[] Outputs, Tensor[] Grads) UnionReference(Tensor[] inputs, Tensor[] gradOutputs)
    {
        var leaves = inputs.Select(x => x.Detach().RequireGrad()).ToArray();
        static Tensor Columns(Tensor t) => t.Permute(1, 0, 2, 3).Reshape(Channels, -1);
        var union = F.Cat(leaves.Select(Columns).ToList(), 1).Unsqueeze(0);
        var y = F.BatchNorm(union, null, null, training: true);
        F.Sum(y * F.Cat(gradOutputs.Select(Columns).ToList(), 1).Unsqueeze(0)).Backward();
        var outputs = new Tensor[inputs.Length];
        int start = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            var shape = inputs[i].ShapeArray;
            int count = inputs[i].Numel / Channels;
            outputs[i] = y.Squeeze(0).Narrow(1, start, count).Reshape(Channels, shape[0], shape[2], shape[3]).Permute(1, 0, 2, 3).Contiguous();
            start += count;
        }
        return (outputs, leaves.Select(l => l.Grad!).ToArray());
    }

    private static Tensor Input(int[] shape, ulong seed, float scale, float shift) => Tensor.Randn(shape, new Generator(seed)) * scale + shift;

    [Fact]
    public void DevicesWithDifferentInputSizesMatchOneBatchNormOverTheirUnion()
    {
        Tensor[] inputs = [Input([2, Channels, 3, 3], 1, 1f, 0f), Input([3, Channels, 5, 4], 2, 2f, 1f)];
        Tensor[] grads = [Input([2, Channels, 3, 3], 3, 1f, 0f), Input([3, Channels, 5, 4], 4, 1f, 0f)];
        var devices = RunDevices(inputs, grads, (_, reducer) => (reducer, true));
        var (outputs, inputGrads) = UnionReference(inputs, grads);
        for (int d = 0; d < 2; d++)
        {
            GoldenRunner.AssertClose(devices[d].Output, outputs[d], Close, $"gppf-syncbn/device{d} y");
            GoldenRunner.AssertClose(devices[d].Input.Grad!, inputGrads[d], Close, $"gppf-syncbn/device{d} grad.x");
        }
        var local = F.BatchNorm(inputs[0], null, null, training: true).ToArray();
        Assert.True(local.Zip(outputs[0].ToArray()).Max(p => MathF.Abs(p.First - p.Second)) > 0.1f, "the devices' statistics differ, so the check is not vacuous");
    }

    [Fact]
    public void HardRoutingSyncsEachUnitOverTheDevicesThatRanIt()
    {
        // Devices 0 and 2 ran unit 1 of a two-unit layer; device 1 ran unit 0 alone.
        int[] slots = [1, 0, 1];
        Tensor[] inputs = [Input([2, Channels, 3, 3], 5, 1f, 0f), Input([2, Channels, 4, 4], 6, 3f, -1f), Input([3, Channels, 5, 2], 7, 2f, 1f)];
        Tensor[] grads = [Input([2, Channels, 3, 3], 8, 1f, 0f), Input([2, Channels, 4, 4], 9, 1f, 0f), Input([3, Channels, 5, 2], 10, 1f, 0f)];
        var devices = RunDevices(inputs, grads, (d, reducer) =>
        {
            bool owner = UnitSlotReducer.IsFirstUser(reducer, d, slots[d], 2);
            return (new UnitSlotReducer(reducer, slots[d], 2), owner);
        });
        var (pairOutputs, pairGrads) = UnionReference([inputs[0], inputs[2]], [grads[0], grads[2]]);
        var (aloneOutputs, aloneGrads) = UnionReference([inputs[1]], [grads[1]]);
        GoldenRunner.AssertClose(devices[0].Output, pairOutputs[0], Close, "gppf-slot/device0 y");
        GoldenRunner.AssertClose(devices[2].Output, pairOutputs[1], Close, "gppf-slot/device2 y");
        GoldenRunner.AssertClose(devices[1].Output, aloneOutputs[0], Close, "gppf-slot/device1 y");
        GoldenRunner.AssertClose(devices[0].Input.Grad!, pairGrads[0], Close, "gppf-slot/device0 grad.x");
        GoldenRunner.AssertClose(devices[2].Input.Grad!, pairGrads[1], Close, "gppf-slot/device2 grad.x");
        GoldenRunner.AssertClose(devices[1].Input.Grad!, aloneGrads[0], Close, "gppf-slot/device1 grad.x");
        // The lowest-index device of each unit updates its running statistics, once.
        Assert.Equal([true, true, false], devices.Select(d => d.Owner).ToArray());
    }
}
