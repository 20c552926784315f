using Tessera.Autograd;
using Tessera.Models.Nn;

namespace Tessera.Models.Training;

/// <summary>
/// BatchNorm2d that synchronises its statistics across the SIMT virtual devices: in training it
/// takes the reducer of <see cref="VirtualDevice.Current"/> (plain batch norm when none is
/// current) and only device 0 updates the running statistics. State-dict names follow
/// torch.nn.BatchNorm2d (weight, bias, running_mean, running_var).
/// </summary>
public sealed class DeviceBatchNorm2d : Layer
{
    public DeviceBatchNorm2d(int channelCount, float momentum = 0.1f, float eps = 1e-5f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channelCount, 1);
        Momentum = momentum;
        Eps = eps;
        Weight = RegisterParameter("weight", Tensor.Full([channelCount], 1f));
        Bias = RegisterParameter("bias", Tensor.Zeros([channelCount]));
        RunningMean = RegisterBuffer("running_mean", Tensor.Zeros([channelCount]));
        RunningVar = RegisterBuffer("running_var", Tensor.Full([channelCount], 1f));
    }

    public Tensor Weight { get; }

    public Tensor Bias { get; }

    public Tensor RunningMean { get; }

    public Tensor RunningVar { get; }

    public float Momentum { get; }

    public float Eps { get; }

    public override Tensor Forward(Tensor input)
    {
        if (!Training)
            return Functional.BatchNorm(input, RunningMean, RunningVar, Weight, Bias, training: false, eps: Eps);
        var device = VirtualDevice.Current;
        bool update = device is null || device.UpdatesRunningStatistics;
        return Functional.BatchNorm(input, update ? RunningMean : null, update ? RunningVar : null, Weight, Bias,
            training: true, momentum: Momentum, eps: Eps, reducer: device?.Reducer);
    }
}
