using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Engine.Threading;
using Tessera.Models.Nn;
using Tessera.Models.Optim;
using Tessera.Models.Training.Distributed;

namespace Tessera.Models.Training;

/// <summary>
/// Multi-source multi-task training with SIMT (GPPF, systems.md): each step, each of V virtual
/// devices samples one task (by the tasks' sampling weights), draws a batch of it at the task's
/// own batch and input size, and runs the shared backbone, that task's head and its loss.
/// Devices run on one thread each, concurrently, because batch norm is synchronised across all of
/// them (cross-task SyncBN through <see cref="DeviceStatisticsGroup"/>). Each device's gradients
/// are kept apart (<see cref="AutogradEngine.LeafGradients"/>), then parameter p gets
/// (1 / N^p) Σ_{devices d that used p} grad_d(p): a task average, not a sample average, and a head
/// no device used this step gets no gradient (so no update, as in the paper). Sums run in device
/// order, so a run is bitwise deterministic for a seed whatever the thread timing.
/// Single-task training is V = 1 with one task. With <see cref="TrainerOptions.Communicator"/>
/// spanning several processes (MPI ranks), each rank runs its <see cref="DeviceDeal"/> of the V
/// devices and the ranks exchange SyncBN sums, per-device gradients and running statistics so that
/// every rank computes the very step one process would (MultiTaskTrainer.Distributed.cs).
/// </summary>
public sealed partial class MultiTaskTrainer
{
    private readonly Optimizer _optimizer;
    private readonly LearningRateScheduler? _scheduler;
    private readonly Generator _sampling;
    private readonly Generator[] _data;
    private readonly Generator[] _noise;
    private readonly double[] _cumulativeWeights;
    // Each task's last finite training loss and its step: a non-finite loss's error tells divergence from a sudden NaN.
    private readonly Dictionary<string, (long Step, double Loss)> _lastFinite = new(StringComparer.Ordinal);

    public MultiTaskTrainer(MultiTaskModel model, Optimizer optimizer, LearningRateScheduler? scheduler, TrainerOptions options)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        _optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _scheduler = scheduler;
        Options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.Devices < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Devices, $"trainer: 'devices' expected at least 1, found {options.Devices}");
        if (options.EvalBatches < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.EvalBatches, $"trainer: 'eval_batches' expected >= 0, found {options.EvalBatches}");
        double total = 0;
        _cumulativeWeights = new double[model.Tasks.Count];
        for (int t = 0; t < model.Tasks.Count; t++)
        {
            var task = model.Tasks[t];
            if (!(task.SamplingWeight >= 0) || !double.IsFinite(task.SamplingWeight))
                throw new ArgumentOutOfRangeException(nameof(model), task.SamplingWeight, $"trainer: task '{task.Name}' sampling weight expected a finite value >= 0, found {task.SamplingWeight}");
            _cumulativeWeights[t] = total += task.SamplingWeight;
        }
        if (total <= 0)
            throw new ArgumentException("trainer: every task has sampling weight 0; give at least one a positive weight", nameof(model));
        // Independent streams: a different key per purpose and device (Philox keys are the seeds).
        _sampling = new Generator(Mix(options.Seed, 1, 0));
        _data = Enumerable.Range(0, options.Devices).Select(d => new Generator(Mix(options.Seed, 2, d))).ToArray();
        _noise = Enumerable.Range(0, options.Devices).Select(d => new Generator(Mix(options.Seed, 3, d))).ToArray();
        _communicator = options.Communicator ?? throw new ArgumentNullException(nameof(options), "trainer: 'Communicator' must not be null (SingleProcessCommunicator.Instance for one process)");
        _deal = DeviceDeal.For(_communicator.Rank, _communicator.Size, options.Devices);
        if (options.BucketBytes < 4)
            throw new ArgumentOutOfRangeException(nameof(options), options.BucketBytes, $"trainer: 'BucketBytes' expected at least 4 (one float), found {options.BucketBytes}");
        // Optimiser state is created lazily (ZerosLike of the parameter), so it follows the parameters.
        model.To(options.Device);
    }

    public MultiTaskModel Model { get; }

    public TrainerOptions Options { get; }

    public Optimizer Optimizer => _optimizer;

    public LearningRateScheduler? Scheduler => _scheduler;

    /// <summary>Steps completed (skipped steps included).</summary>
    public long Step { get; private set; }

    /// <summary>Every random stream by name with its (seed, offset): what a checkpoint must hold to resume exactly.</summary>
    public IReadOnlyDictionary<string, Generator> Generators
    {
        get
        {
            var result = new Dictionary<string, Generator>(StringComparer.Ordinal) { ["sampling"] = _sampling };
            for (int d = 0; d < _data.Length; d++)
            {
                result[$"data.{d}"] = _data[d];
                result[$"noise.{d}"] = _noise[d];
            }
            return result;
        }
    }

    /// <summary>Sets the step counter (restoring a checkpoint; the generators are restored through <see cref="Generators"/>).</summary>
    public void RestoreStep(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        Step = step;
    }

    /// <summary>Runs one SIMT step and applies the update (or skips it, by policy).</summary>
    public StepResult RunStep()
    {
        long step = Step;
        int deviceCount = Options.Devices;
        var tasks = new TrainingTask[deviceCount];
        for (int d = 0; d < deviceCount; d++) tasks[d] = SampleTask();
        var saved = SnapshotBuffers();
        (Model.Backbone as IScheduledBackbone)?.OnStep(step);
        Model.Train();
        var results = RunDevices(step, tasks);

        string? problem = FindNonFinite(step, tasks, results, out int badDevice);
        if (IsDistributed) problem = ShareReports(results, problem);
        if (problem is not null && Options.NonFinite == NonFinitePolicy.Stop)
        {
            // Under MPI the bad device may live on another rank: its message came through ShareReports.
            if (badDevice < 0)
                throw new NonFiniteLossException(problem + " (on another rank; that rank's error names the cause)") { Step = step };
            string task = tasks[badDevice].Name;
            string cause = NonFiniteDiagnosis.Explain(results[badDevice]!.BadInputs, Model, _optimizer, task, _lastFinite.TryGetValue(task, out var last) ? last : null);
            throw new NonFiniteLossException($"{problem}: {cause}") { Step = step, Task = task };
        }
        for (int d = 0; d < deviceCount; d++)
            if (results[d] is { } done && double.IsFinite(done.Loss)) _lastFinite[tasks[d].Name] = (step, done.Loss);
        if (problem is null)
        {
            if (IsDistributed) ShareGradients(results);
            ApplyAverageGradients(results!);
            if (Options.ClipNorm > 0)
                GradientClipping.ClipNorm(Model.Parameters(), Options.ClipNorm);
            _optimizer.Step();
            _scheduler?.Step();
            _optimizer.ZeroGrad();
        }
        else
        {
            RestoreBuffers(saved);
        }
        if (IsDistributed) ShareBuffers(saved);
        Step++;
        return new StepResult(step, tasks.Select(t => t.Name).ToArray(), results.Select(r => r!.Loss).ToArray(),
            AverageMetrics(tasks, results!), problem, tasks.Sum(t => t.BatchSize));
    }

    /// <summary>
    /// Metrics of every task over <see cref="TrainerOptions.EvalBatches"/> test batches (fewer when a
    /// <see cref="IFiniteTestSplit"/> ends sooner), as "task/metric": an <see cref="IEvaluatedHead"/>'s
    /// split-level metrics, otherwise the image-weighted means of the head's batch metrics and loss.
    /// </summary>
    public Dictionary<string, double> Evaluate()
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        Model.Eval();
        try
        {
            using var noGrad = GradMode.NoGrad();
            foreach (var task in Model.Tasks)
            {
                var sums = new Dictionary<string, double>(StringComparer.Ordinal);
                long images = 0;
                // Split-level metrics (mAP, mIoU) come from the head's accumulator, not from batch means.
                var evaluation = (task.Head as IEvaluatedHead)?.CreateEvaluation();
                long batches = Options.EvalBatches;
                if (task.Source is IFiniteTestSplit finite)
                    batches = Math.Min(batches, (finite.TestCount + task.BatchSize - 1) / task.BatchSize);
                for (long b = 0; b < batches; b++)
                {
                    using var scope = new TensorScope();
                    // Test batches depend on their index only; the generator is a formality.
                    var batch = task.Source.Sample(DataSplit.Test, b, task.BatchSize, task.InputSize, new Generator(0)).To(Options.Device);
                    if (evaluation is not null)
                    {
                        evaluation.Add(Model.Backbone.Forward(task.Name, batch.Inputs), batch);
                        continue;
                    }
                    var output = Model.Forward(task.Name, batch);
                    Accumulate(sums, "loss", output.Loss.Item() * batch.BatchSize);
                    foreach (var (name, value) in output.Metrics) Accumulate(sums, name, value * batch.BatchSize);
                    images += batch.BatchSize;
                }
                foreach (var (name, sum) in sums) result[$"{task.Name}/{name}"] = images == 0 ? double.NaN : sum / images;
                if (evaluation is not null)
                    foreach (var (name, value) in evaluation.Compute()) result[$"{task.Name}/{name}"] = value;
            }
        }
        finally
        {
            Model.Train();
        }
        return result;
    }

    /// <param name="BadInputs">(non-finite, total) input values, checked only when the loss is non-finite.</param>
    internal sealed record DeviceResult(double Loss, IReadOnlyDictionary<string, double> Metrics, Dictionary<Tensor, Tensor> Gradients, (long Bad, long Total)? BadInputs = null);

    private TrainingTask SampleTask()
    {
        var u = new float[1];
        _sampling.Uniform(u);
        double target = u[0] * _cumulativeWeights[^1];
        for (int t = 0; t < _cumulativeWeights.Length; t++)
            if (target < _cumulativeWeights[t]) return Model.Tasks[t];
        // Only reachable by rounding (u·total == total): the last task with a positive weight.
        int last = _cumulativeWeights.Length - 1;
        while (last > 0 && _cumulativeWeights[last] == _cumulativeWeights[last - 1]) last--;
        return Model.Tasks[last];
    }

    /// <summary>Runs this rank's devices; the other ranks' entries stay null until <see cref="ShareReports"/>.</summary>
    private DeviceResult?[] RunDevices(long step, TrainingTask[] tasks)
    {
        int deviceCount = tasks.Length;
        var results = new DeviceResult?[deviceCount];
        if (deviceCount == 1)
        {
            results[0] = RunDevice(step, 0, tasks[0], tasks, LocalBatchStatisticsReducer.Instance);
            return results;
        }
        var group = new DeviceStatisticsGroup(_deal, _communicator);
        var errors = new Exception?[deviceCount];
        Exception? origin = null;
        var threads = new Thread[_deal.Count];
        for (int d = _deal.First; d < _deal.End; d++)
        {
            int device = d;
            threads[d - _deal.First] = new Thread(() =>
            {
                try
                {
                    using var serial = Options.SerialDevices ? CpuParallel.SerialScope() : null;
                    results[device] = RunDevice(step, device, tasks[device], tasks, group.Reducer(device));
                    group.Finish(device);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref origin, e, null);
                    errors[device] = e;
                    group.Abort(device, e);
                }
            }) { IsBackground = true, Name = $"simt-device-{d}" };
            threads[d - _deal.First].Start();
        }
        foreach (var thread in threads) thread.Join();
        if (origin is not null)
        {
            int device = Array.IndexOf(errors, origin);
            throw origin is ArgumentException or InvalidOperationException or IOException or InvalidDataException
                ? origin
                : new InvalidOperationException($"step {step}, task '{tasks[device].Name}', device {device}: {origin.Message}", origin);
        }
        return results;
    }

    private DeviceResult RunDevice(long step, int device, TrainingTask task, TrainingTask[] tasks, IBatchStatisticsReducer reducer)
    {
        var context = new VirtualDevice(device, task.Name, reducer, _noise[device]);
        using var enter = context.Enter();
        using var scope = new TensorScope();
        var batch = task.Source.Sample(DataSplit.Train, step, task.BatchSize, task.InputSize, _data[device]).To(Options.Device);
        var features = Model.Backbone.Forward(task.Name, batch.Inputs);
        TaskOutput output;
        // A head runs only on its own task's devices, so its batch norms (segmentation, depth) cannot
        // join the cross-task SyncBN group: they normalise the device's batch, and the first device of
        // the task this step updates their running statistics.
        bool firstOfTask = Array.FindIndex(tasks, t => t.Name == task.Name) == device;
        using (SyncBatchNormScope.Use(LocalBatchStatisticsReducer.Instance, firstOfTask))
            output = task.Head.Forward(features, batch);
        var loss = task.LossWeight == 1.0 ? output.Loss : output.Loss * (float)task.LossWeight;
        double lossValue = output.Loss.Item();
        // Only a non-finite loss pays for scanning the inputs (on a GPU it is a copy to the host).
        (long, long)? badInputs = double.IsFinite(lossValue) ? null : (NonFiniteDiagnosis.CountNonFinite(batch.Inputs), batch.Inputs.Numel);
        // The loss value and metrics are read above: activations can go back to the pool during the sweep.
        var gradients = AutogradEngine.LeafGradients(loss, freeActivations: true);
        // The gradients outlive this device's scope: the main thread averages them.
        var kept = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        using (TensorScope.Unscoped())
        using (GradMode.NoGrad())
            foreach (var (leaf, grad) in gradients) kept[leaf] = grad.Contiguous().Clone();
        return new DeviceResult(lossValue, output.Metrics, kept, badInputs);
    }

    /// <summary>The first non-finite loss or gradient among this process's devices (under MPI, this rank's share), and its device (-1: none).</summary>
    private string? FindNonFinite(long step, TrainingTask[] tasks, DeviceResult?[] results, out int device)
    {
        for (device = _deal.First; device < _deal.End; device++)
        {
            if (!double.IsFinite(results[device]!.Loss))
                return $"non-finite loss ({results[device]!.Loss}) at step {step}, task '{tasks[device].Name}', device {device}";
            foreach (var (name, p) in Model.NamedParameters())
                if (results[device]!.Gradients.TryGetValue(p, out var grad) && !AllFinite(grad))
                    return $"non-finite gradient of '{name}' at step {step}, task '{tasks[device].Name}', device {device}";
        }
        device = -1;
        return null;
    }

    private void ApplyAverageGradients(DeviceResult[] results)
    {
        using var unscoped = TensorScope.Unscoped();
        using var noGrad = GradMode.NoGrad();
        foreach (var p in Model.Parameters())
        {
            Tensor? sum = null;
            int users = 0;
            foreach (var result in results)
            {
                if (!result.Gradients.TryGetValue(p, out var grad)) continue;
                users++;
                if (sum is null) sum = grad.Clone();
                else sum.AddInPlace(grad);
            }
            if (sum is not null && users > 1) sum.MulInPlace(1f / users);
            p.Grad = sum;
        }
    }

    private static Dictionary<string, double> AverageMetrics(TrainingTask[] tasks, DeviceResult[] results)
    {
        var sums = new Dictionary<string, double>(StringComparer.Ordinal);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int d = 0; d < results.Length; d++)
        {
            foreach (var (name, value) in results[d].Metrics.Append(new("loss", results[d].Loss)))
            {
                string key = $"{tasks[d].Name}/{name}";
                Accumulate(sums, key, value);
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }
        var metrics = sums.ToDictionary(kv => kv.Key, kv => kv.Value / counts[kv.Key], StringComparer.Ordinal);
        metrics["loss"] = results.Average(r => r.Loss);
        return metrics;
    }

    private List<(Tensor Buffer, Tensor Copy)> SnapshotBuffers()
    {
        // Distributed steps compare against the snapshot to find which rank updated a running statistic.
        if (Options.NonFinite != NonFinitePolicy.Skip && !IsDistributed) return [];
        using var unscoped = TensorScope.Unscoped();
        return Model.NamedBuffers().Select(b => (b.Buffer, b.Buffer.Clone())).ToList();
    }

    private static void RestoreBuffers(List<(Tensor Buffer, Tensor Copy)> saved)
    {
        using var noGrad = GradMode.NoGrad();
        foreach (var (buffer, copy) in saved) buffer.CopyFrom(copy);
    }

    private static bool AllFinite(Tensor t)
    {
        foreach (float v in t.Device.IsCpu ? t.Contiguous().AsSpan<float>() : t.ToArray())
            if (!float.IsFinite(v)) return false;
        return true;
    }

    private static void Accumulate(Dictionary<string, double> sums, string key, double value) => sums[key] = sums.GetValueOrDefault(key) + value;

    /// <summary>A 64-bit key per (seed, purpose, device): splitmix64 of the three, so streams never overlap.</summary>
    internal static ulong Mix(ulong seed, ulong purpose, long device)
    {
        ulong z = seed * 0x9E3779B97F4A7C15UL + purpose * 0xBF58476D1CE4E5B9UL + (ulong)device * 0x94D049BB133111EBUL + 0x2545F4914F6CDD1DUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
