using Tessera.Autograd;

namespace Tessera.Models.Optim;

/// <summary>Adam with decoupled weight decay (torch.optim.AdamW semantics; default weight decay 0.01).</summary>
public sealed class AdamW : Optimizer
{
    /// <summary>AdamW over <paramref name="parameters"/> with PyTorch's defaults (<c>lr</c> as torch.optim.AdamW spells it).</summary>
    public AdamW(IEnumerable<Tensor> parameters, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 0.01f)
        : this([new ParameterGroup(parameters)], lr, beta1, beta2, eps, weightDecay) { }

    public AdamW(IEnumerable<ParameterGroup> groups, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 0.01f)
        : base(groups, lr, weightDecay)
    {
        if (!(beta1 is >= 0f and < 1f) || !(beta2 is >= 0f and < 1f))
            throw new ArgumentOutOfRangeException(nameof(beta1), $"AdamW: betas expected in [0, 1), found ({beta1}, {beta2})");
        if (!(eps > 0f))
            throw new ArgumentOutOfRangeException(nameof(eps), eps, $"AdamW: 'eps' expected > 0, found {eps}");
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
    }

    public float Beta1 { get; }

    public float Beta2 { get; }

    public float Eps { get; }

    protected override void Update(ParameterGroup group, Tensor parameter, Tensor gradient)
    {
        var firstMoment = State(parameter, "exp_avg");
        var secondMoment = State(parameter, "exp_avg_sq");
        // The per-parameter step count is state too (a 0-dim tensor), so checkpoints carry it.
        var steps = Data(State(parameter, "step", []), "step");
        float step = ++steps[0];
        float lr = group.LearningRate;
        double correction1 = 1 - Math.Pow(Beta1, step);
        double correction2 = 1 - Math.Pow(Beta2, step);
        float stepSize = (float)(lr / correction1);
        float sqrtCorrection2 = (float)Math.Sqrt(correction2);
        float decay = 1f - lr * group.WeightDecay;
        if (parameter.Device.IsGpu)
        {
            GpuOptimizerSteps.AdamW(parameter, gradient, firstMoment, secondMoment, decay, Beta1, Beta2, stepSize, sqrtCorrection2, Eps);
            return;
        }
        var p = Data(parameter, "parameter");
        var g = Data(gradient.Contiguous(), "gradient");
        var m = Data(firstMoment, "first moment");
        var v = Data(secondMoment, "second moment");
        for (int i = 0; i < p.Length; i++)
        {
            p[i] *= decay;
            m[i] = Beta1 * m[i] + (1f - Beta1) * g[i];
            v[i] = Beta2 * v[i] + (1f - Beta2) * g[i] * g[i];
            float denominator = MathF.Sqrt(v[i]) / sqrtCorrection2 + Eps;
            p[i] -= stepSize * m[i] / denominator;
        }
    }
}
