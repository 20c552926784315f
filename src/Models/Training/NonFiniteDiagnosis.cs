using System.Globalization;
using Tessera.Autograd;
using Tessera.Models.Optim;

namespace Tessera.Models.Training;

/// <summary>
/// Says what most plausibly made a loss or gradient non-finite, from what can be checked after
/// the fact: NaN/Inf in the step's input batch points at the data; in the weights or the
/// optimiser state, at an earlier update that overflowed; with all of them finite, at the pass
/// itself diverging (a learning rate too high for the model). "Lower the learning rate" is only
/// the advice for the last two.
/// </summary>
internal static class NonFiniteDiagnosis
{
    /// <summary>The cause and what to do, as one sentence to append to the error.</summary>
    /// <param name="badInputs">(non-finite, total) values of the input batch, or null when the inputs were not checked.</param>
    /// <param name="model">Its weights are checked by name.</param>
    /// <param name="optimizer">Its state is checked, named by the weight it belongs to.</param>
    /// <param name="task">The task whose loss or gradient was non-finite.</param>
    /// <param name="lastFinite">That task's last finite loss and its step, if any.</param>
    public static string Explain((long Bad, long Total)? badInputs, MultiTaskModel model, Optimizer optimizer, string task, (long Step, double Loss)? lastFinite)
    {
        var c = CultureInfo.InvariantCulture;
        if (badInputs is { Bad: > 0 } inputs)
            return string.Create(c, $"the input batch of task '{task}' itself holds {inputs.Bad} NaN/infinite value(s) of {inputs.Total}: the data is at fault, not the learning rate; check the task's source files (and augmentation), or set nonfinite=skip to skip such batches");
        var names = new Dictionary<Tensor, string>(ReferenceEqualityComparer.Instance);
        foreach (var (name, parameter) in model.NamedParameters()) names[parameter] = name;
        foreach (var (name, parameter) in model.NamedParameters())
            if (CountNonFinite(parameter) is > 0 and var count)
                return string.Create(c, $"weight '{name}' already holds {count} NaN/infinite value(s) before this step, so an earlier update overflowed (or the weights were set so outside training): lower optimizer.lr (now {Rate(optimizer)}) or set clip_norm, and start again from a good checkpoint");
        var ordered = optimizer.Groups.SelectMany(g => g.Parameters).ToList();
        foreach (var (key, state) in optimizer.StateDict())
        {
            if (CountNonFinite(state) is not (> 0 and var count)) continue;
            int index = int.Parse(key.AsSpan(0, key.IndexOf('.', StringComparison.Ordinal)), c);
            string owner = index < ordered.Count && names.TryGetValue(ordered[index], out var n) ? n : $"#{index}";
            return string.Create(c, $"the optimiser state '{key}' (of weight '{owner}') holds {count} NaN/infinite value(s): an earlier update overflowed; lower optimizer.lr (now {Rate(optimizer)}) or set clip_norm, and start again from a good checkpoint");
        }
        string trend = lastFinite is { } last
            ? string.Create(c, $" (task '{task}' last had a finite loss, {last.Loss:G4}, at step {last.Step})")
            : string.Create(c, $" (task '{task}' had no finite loss before)");
        return string.Create(c, $"the inputs, weights and optimiser state are all finite, so the pass itself overflowed{trend}: most often a learning rate too high for this model; lower optimizer.lr (now {Rate(optimizer)}), set clip_norm, or set nonfinite=skip to skip such steps");
    }

    /// <summary>Non-finite values of a float tensor (other dtypes have none).</summary>
    public static long CountNonFinite(Tensor tensor)
    {
        if (tensor.DType != Engine.DType.Float32) return 0;
        long count = 0;
        foreach (float v in tensor.Device.IsCpu ? tensor.Contiguous().AsSpan<float>() : tensor.ToArray<float>())
            if (!float.IsFinite(v)) count++;
        return count;
    }

    private static string Rate(Optimizer optimizer) => optimizer.Groups[0].LearningRate.ToString("G4", CultureInfo.InvariantCulture);
}
