using Tessera.Autograd;

namespace Tessera.Models.Optim;

/// <summary>Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD semantics).</summary>
public sealed class Sgd : Optimizer
{
    /// <summary>SGD over <paramref name="parameters"/> (<c>lr</c> as torch.optim.SGD spells it).</summary>
    public Sgd(IEnumerable<Tensor> parameters, float lr, float momentum = 0f, float dampening = 0f, float weightDecay = 0f, bool nesterov = false)
        : this([new ParameterGroup(parameters)], lr, momentum, dampening, weightDecay, nesterov) { }

    public Sgd(IEnumerable<ParameterGroup> groups, float lr, float momentum = 0f, float dampening = 0f, float weightDecay = 0f, bool nesterov = false)
        : base(groups, lr, weightDecay)
    {
        if (!(momentum >= 0f))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"Sgd: 'momentum' expected >= 0, found {momentum}");
        if (nesterov && (momentum <= 0f || dampening != 0f))
            throw new ArgumentException($"Sgd: Nesterov momentum expected momentum > 0 and dampening = 0, found momentum {momentum}, dampening {dampening}", nameof(nesterov));
        Momentum = momentum;
        Dampening = dampening;
        Nesterov = nesterov;
    }

    public float Momentum { get; }

    public float Dampening { get; }

    public bool Nesterov { get; }

    protected override void Update(ParameterGroup group, Tensor parameter, Tensor gradient)
    {
        if (parameter.Device.IsGpu)
        {
            bool firstStep = !HasState(parameter, "momentum_buffer");
            GpuOptimizerSteps.Sgd(parameter, gradient, Momentum == 0f ? null : State(parameter, "momentum_buffer"), group.LearningRate, group.WeightDecay,
                Momentum, Dampening, Nesterov, firstStep);
            return;
        }
        var p = Data(parameter, "parameter");
        var g = Data(gradient.Contiguous(), "gradient");
        float lr = group.LearningRate, decay = group.WeightDecay;
        if (Momentum == 0f)
        {
            for (int i = 0; i < p.Length; i++) p[i] -= lr * (g[i] + decay * p[i]);
            return;
        }
        bool first = !HasState(parameter, "momentum_buffer");
        var buffer = Data(State(parameter, "momentum_buffer"), "momentum buffer");
        for (int i = 0; i < p.Length; i++)
        {
            float d = g[i] + decay * p[i];
            buffer[i] = first ? d : Momentum * buffer[i] + (1f - Dampening) * d;
            p[i] -= lr * (Nesterov ? d + Momentum * buffer[i] : buffer[i]);
        }
    }
}
