using Tessera.Engine;

namespace Tessera.Autograd;

/// <summary>Result of <see cref="GradCheck.Run"/>: the worst disagreement between analytic and numeric gradients.</summary>
public sealed record GradCheckResult(bool Passed, float MaxAbsDiff, string Report);

/// <summary>
/// Finite-difference gradient checker (torch.autograd.gradcheck in float32). It reduces the op's
/// output to a scalar with a fixed random projection, perturbs every input element by ±eps, and
/// compares the central difference with Backward. float32 limits accuracy, so eps ~1e-2 and
/// tolerances ~1e-2 are typical; use inputs away from kinks (relu at 0, max ties).
/// </summary>
public static class GradCheck
{
    public static GradCheckResult Run(Func<Tensor[], Tensor> function, Tensor[] inputs, float eps = 1e-2f, float atol = 1e-2f, float rtol = 1e-2f, ulong seed = 7)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(inputs);
        var leaves = inputs.Select(t => t.Contiguous().Detach().Clone().RequireGrad(t.DType == DType.Float32 && t.RequiresGrad)).ToArray();
        var output = function(leaves);
        var projection = Tensor.Randn(output.Shape, new Engine.Random.Generator(seed));
        var loss = Functional.Sum(output * projection);
        loss.Backward();

        float worst = 0;
        var report = new System.Text.StringBuilder();
        bool passed = true;
        using var noGrad = GradMode.NoGrad();
        for (int i = 0; i < leaves.Length; i++)
        {
            if (!leaves[i].RequiresGrad) continue;
            var analytic = (leaves[i].Grad ?? Tensor.ZerosLike(leaves[i])).ToArray();
            var data = leaves[i].AsSpan<float>();
            for (int j = 0; j < data.Length; j++)
            {
                float original = data[j];
                data[j] = original + eps;
                float plus = Functional.Sum(function(leaves) * projection).Item();
                data[j] = original - eps;
                float minus = Functional.Sum(function(leaves) * projection).Item();
                data[j] = original;
                float numeric = (plus - minus) / (2 * eps);
                float diff = MathF.Abs(numeric - analytic[j]);
                worst = Math.Max(worst, diff);
                if (!(diff <= atol + rtol * MathF.Abs(numeric)))
                {
                    passed = false;
                    if (report.Length < 2000)
                        report.AppendLine($"input {i} element {j}: analytic {analytic[j]:g6}, numeric {numeric:g6}, diff {diff:g3}");
                }
            }
        }
        return new GradCheckResult(passed, worst, passed ? $"gradients agree (max abs diff {worst:g3})" : report.ToString());
    }
}
