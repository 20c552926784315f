using Tessera.Autograd;
using Tessera.Engine;
using Xunit.Sdk;

namespace Tessera.Tests.Goldens;

/// <summary>|actual - expected| &lt;= Atol + Rtol * |expected|, elementwise.</summary>
public readonly record struct Tolerance(float Atol, float Rtol)
{
    public static readonly Tolerance Tight = new(1e-5f, 1e-5f);
    public static readonly Tolerance Default = new(1e-5f, 1e-4f);
    public static readonly Tolerance Loose = new(1e-4f, 1e-3f);
}

/// <summary>
/// Runs a golden case: rebuilds inputs (float inputs with a recorded gradient require grad;
/// args "noncontig": [names] turns those inputs into non-contiguous leaves with the same values),
/// calls the op, compares every output, then backpropagates sum(out * gout) and compares grads.
/// </summary>
public static class GoldenRunner
{
    public delegate Tensor[] Op(GoldenCase golden, IReadOnlyDictionary<string, Tensor> inputs);

    public static void Run(GoldenCase golden, Op op, Tolerance forward, Tolerance? backward = null) =>
        Run(golden, op, forward, backward, Device.Cpu);

    /// <summary>
    /// The same check on <paramref name="device"/>: inputs (and output gradients) are moved there
    /// before the op runs (non-contiguous inputs stay non-contiguous there), results are compared
    /// after copying back. This is the conformance suite over backends: every family's goldens run
    /// through here once per device. Labels carry the device ("core/add@cuda-emu out.y").
    /// </summary>
    public static void Run(GoldenCase golden, Op op, Tolerance forward, Tolerance? backward, Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        string at = device.IsCpu ? "" : "@" + device;
        var noncontig = golden.Args.TryGetProperty("noncontig", out var nc) ? nc.EnumerateArray().Select(e => e.GetString()!).ToHashSet() : [];
        var inputs = new Dictionary<string, Tensor>();
        foreach (var name in golden.Keys("in."))
        {
            var t = golden.Tensor("in." + name).To(device);
            if (noncontig.Contains(name)) t = NonContiguous(t);
            if (golden.GradNames.Contains(name)) t.RequiresGrad = true;
            inputs[name] = t;
        }
        var outputs = op(golden, inputs);
        var outNames = golden.Keys("out.").ToArray();
        if (outNames.Length != outputs.Length)
            throw new XunitException($"{golden}: op returned {outputs.Length} outputs, the golden has {outNames.Length} ({string.Join(", ", outNames)})");
        Tensor? total = null;
        for (int i = 0; i < outputs.Length; i++)
        {
            string name = outputs.Length == 1 ? "y" : $"y{i}";
            AssertClose(outputs[i].To(Device.Cpu), golden.Tensor("out." + name), forward, $"{golden}{at} out.{name}");
            if (golden.Has("gout." + name) && outputs[i].RequiresGrad && outputs.Length > 1)
            {
                var term = Functional.Sum(outputs[i] * golden.Tensor("gout." + name).To(device));
                total = total is null ? term : total + term;
            }
        }
        if (golden.GradNames.Count == 0)
            return;
        if (total is null && !(outputs.Length == 1 && outputs[0].RequiresGrad && golden.Has("gout.y")))
            throw new XunitException($"{golden}: the golden has input gradients but no output of the op requires grad");
        if (outputs.Length == 1)
            outputs[0].Backward(golden.Tensor("gout.y").To(device));
        else
            total!.Backward();
        foreach (var name in golden.GradNames)
        {
            var grad = inputs[name].Grad ?? Tensor.ZerosLike(inputs[name]);
            if (!grad.Device.Equals(device))
                throw new XunitException($"{golden}{at}: grad.{name} is on {grad.Device}, expected {device} (gradients stay on their leaf's device)");
            AssertClose(grad.To(Device.Cpu), golden.Tensor("grad." + name), backward ?? forward, $"{golden}{at} grad.{name}");
        }
    }

    /// <summary>Same values, non-contiguous strides (a transposed or strided store).</summary>
    public static Tensor NonContiguous(Tensor t)
    {
        if (t.Rank >= 2)
            return t.Transpose(-1, -2).Contiguous().Transpose(-1, -2).Detach();
        // 1-d: every other element of a buffer twice as long.
        var wide = Tensor.Zeros([t.Numel * 2], t.DType, t.Device);
        var view = wide.Slice(0, 0, t.Numel * 2, 2).Detach();
        view.CopyFrom(t);
        return view;
    }

    public static void AssertClose(Tensor actual, Tensor expected, Tolerance tolerance, string label)
    {
        if (!Shapes.Equal(actual.Shape, expected.Shape))
            throw new XunitException($"{label}: shape {Shapes.Format(actual.Shape)} != expected {Shapes.Format(expected.Shape)}");
        if (actual.DType != expected.DType)
        {
            if (expected.DType == DType.Float32) actual = actual.ToFloat();
            else if (expected.DType == DType.Int64 && actual.DType != DType.Bool) actual = actual.ToLong();
        }
        if (expected.DType != DType.Float32)
        {
            var a = actual.ToFloat().ToArray();
            var e = expected.ToFloat().ToArray();
            for (int i = 0; i < a.Length; i++)
                if (a[i] != e[i])
                    throw new XunitException($"{label}: element {i} is {a[i]}, expected {e[i]} ({expected.DType.Name()}, exact)");
            return;
        }
        var x = actual.ToArray();
        var y = expected.ToArray();
        float maxDiff = 0;
        int worst = -1, failures = 0;
        for (int i = 0; i < x.Length; i++)
        {
            bool bothNan = float.IsNaN(x[i]) && float.IsNaN(y[i]);
            bool sameInf = float.IsInfinity(y[i]) && x[i] == y[i];
            if (bothNan || sameInf) continue;
            float diff = MathF.Abs(x[i] - y[i]);
            if (float.IsNaN(diff)) diff = float.PositiveInfinity;
            if (worst < 0 || diff > maxDiff)
            {
                maxDiff = diff;
                worst = i;
            }
            if (!(diff <= tolerance.Atol + tolerance.Rtol * MathF.Abs(y[i]))) failures++;
        }
        GoldenStats.Record(label, maxDiff);
        if (failures > 0)
            throw new XunitException($"{label}: {failures}/{x.Length} elements outside atol={tolerance.Atol:g3} rtol={tolerance.Rtol:g3}; max abs diff {maxDiff:g4} at {worst} (actual {x[worst]}, expected {y[worst]})");
    }
}

/// <summary>Largest max-abs-diff seen per family, written to goldens-maxdiff.txt after the run for the closing report.</summary>
public static class GoldenStats
{
    private static readonly Dictionary<string, float> Worst = new();
    private static readonly Lock Gate = new();

    public static void Record(string label, float maxDiff)
    {
        string family = label.Split('/')[0];
        int at = label.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
            family += label[at..label.IndexOf(' ', at)];
        string kind = label.Contains(" grad.", StringComparison.Ordinal) ? "backward" : "forward";
        lock (Gate)
        {
            string key = $"{family} {kind}";
            Worst[key] = Math.Max(Worst.GetValueOrDefault(key), maxDiff);
            File.WriteAllLines(Path.Combine(AppContext.BaseDirectory, "goldens-maxdiff.txt"),
                Worst.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}\t{p.Value:g4}"));
        }
    }
}
