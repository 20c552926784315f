using Tessera.Autograd;
using Tessera.Models.Nn;

namespace Tessera.Models.Optim;

/// <summary>Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).</summary>
public static class GradientClipping
{
    /// <summary>Scales all gradients so their joint L2 norm is at most maxNorm; returns the norm before clipping.</summary>
    public static float ClipNorm(IEnumerable<Tensor> parameters, float maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0f))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, $"ClipNorm: 'maxNorm' expected > 0, found {maxNorm}");
        var grads = parameters.Select(p => p.Grad).OfType<Tensor>().ToList();
        double squares = GpuOptimizerSteps.SumOfSquares(grads.Where(g => g.Device.IsGpu));
        foreach (var g in grads.Where(g => !g.Device.IsGpu))
            foreach (float v in g.Contiguous().AsSpan<float>()) squares += (double)v * v;
        float norm = (float)Math.Sqrt(squares);
        float coefficient = maxNorm / (norm + 1e-6f);
        if (coefficient < 1f)
            using (GradMode.NoGrad())
                foreach (var g in grads)
                {
                    if (g.Device.IsGpu) GpuOptimizerSteps.Scale(g, coefficient);
                    else g.MulInPlace(coefficient);
                }
        return norm;
    }

    /// <summary>Clamps every gradient element into [-clipValue, clipValue].</summary>
    public static void ClipValue(IEnumerable<Tensor> parameters, float clipValue)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(clipValue > 0f))
            throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, $"ClipValue: 'clipValue' expected > 0, found {clipValue}");
        using var noGrad = GradMode.NoGrad();
        foreach (var p in parameters)
            p.Grad?.CopyFrom(Functional.Clamp(p.Grad, -clipValue, clipValue));
    }
}

/// <summary>
/// Exponential moving average of a model's parameters and buffers (shadow = decay·shadow +
/// (1 - decay)·current), for evaluation with smoothed weights.
/// </summary>
public sealed class ModelEma
{
    private readonly Dictionary<string, Tensor> _shadow;

    public ModelEma(Module model, float decay = 0.999f)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!(decay is >= 0f and <= 1f))
            throw new ArgumentOutOfRangeException(nameof(decay), decay, $"ModelEma: 'decay' expected in [0, 1], found {decay}");
        Decay = decay;
        using var noGrad = GradMode.NoGrad();
        _shadow = model.StateDict().Where(kv => kv.Value.DType == Engine.DType.Float32).ToDictionary(kv => kv.Key, kv => kv.Value.Detach().Clone());
    }

    public float Decay { get; }

    public IReadOnlyDictionary<string, Tensor> Shadow => _shadow;

    public void Update(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var noGrad = GradMode.NoGrad();
        foreach (var (name, current) in model.StateDict())
            if (_shadow.TryGetValue(name, out var shadow))
                shadow.CopyFrom(shadow * Decay + current * (1f - Decay));
    }

    /// <summary>Loads the averaged weights into <paramref name="model"/>.</summary>
    public void CopyTo(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.LoadStateDict(_shadow, strict: false);
    }
}
