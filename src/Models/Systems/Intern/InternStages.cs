using Tessera.Autograd;
using Tessera.Models.Nn;
using Tessera.Models.Optim;
using Tessera.Models.Recipes;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.Intern;

/// <summary>A loss-curve point of a stage (step within the stage, loss).</summary>
public sealed record LossPoint(long Step, double Loss);

/// <summary>
/// The supervised stages of INTERN at reduced scale, each through the SIMT trainer
/// (<see cref="MultiTaskTrainer"/>: V virtual devices each sample one source per step in proportion
/// to its nominal size, SyncBN across the devices, task-averaged gradients): the Up-E experts
/// (from Up-A, one per task type), Up-G (the experts as branches, with or without KTMs) and the
/// supervised "ImageNet-style" baseline (shapes-cls only). AdamW, warm-up + cosine per stage.
/// </summary>
public static class InternStages
{
    /// <summary>A fresh MetaNet; <paramref name="atrous"/> for the segmentation expert's DeepLab-lite last stage.</summary>
    public static MetaNet CreateNet(InternSettings settings, int purpose, bool atrous = false) =>
        new(settings.Backbone with { AtrousLast = atrous }, InternTasks.Stream(settings.Seed, purpose));

    /// <summary>A copy of <paramref name="source"/>'s weights in a fresh net (the dilation of the last stage may differ: same weight shapes).</summary>
    public static MetaNet CopyNet(MetaNet source, InternSettings settings, int purpose, bool atrous)
    {
        var net = CreateNet(settings, purpose, atrous);
        net.LoadStateDict(source.StateDict());
        return net;
    }

    /// <summary>Up-E: one expert of <paramref name="type"/> initialised from the Up-A backbone, one head per source of that type.</summary>
    public static (ExpertTrunk Trunk, MultiTaskModel Model, List<LossPoint> Curve) TrainExpert(TaskType type, MetaNet upA, IReadOnlyList<InternSource> sources,
        InternSettings settings, Action<string>? log)
    {
        var own = sources.Where(s => s.Type == type).ToList();
        var net = CopyNet(upA, settings, 10 + (int)type, type == TaskType.Segmentation);
        var trunk = new ExpertTrunk(net, type == TaskType.Detection ? settings.HeadWidth : null, InternTasks.Stream(settings.Seed, 13 + (int)type));
        var model = new MultiTaskModel(trunk, InternTasks.Build(own, trunk, settings, InternTasks.Stream(settings.Seed, 16 + (int)type)));
        var curve = Train(model, settings, settings.ExpertSteps, 20 + (ulong)type, log, $"up-e ({type.ToString().ToLowerInvariant()})");
        return (trunk, model, curve);
    }

    /// <summary>
    /// Up-G from the three experts: branches copied from their nets, the patch FPN from the detection
    /// expert's shared FPN, every head from the Up-E head of its source; trained on every source.
    /// </summary>
    public static (GeneralistBackbone Backbone, MultiTaskModel Model, List<LossPoint> Curve) TrainGeneralist(IReadOnlyList<ExpertTrunk> experts, IReadOnlyList<MultiTaskModel> expertModels,
        IReadOnlyList<InternSource> sources, InternSettings settings, bool useKtm, Action<string>? log)
    {
        var generalist = CreateGeneralist(experts, settings, useKtm);
        var tasks = InternTasks.Build(sources, generalist, settings, InternTasks.Stream(settings.Seed, 25));
        foreach (var task in tasks)
        {
            var type = sources.First(s => s.Source == task.Name).Type;
            generalist.Route(task.Name, type);
            var expertHead = expertModels[(int)type].Task(task.Name).Head.Module;
            task.Head.Module.LoadStateDict(expertHead.StateDict());
        }
        var model = new MultiTaskModel(generalist, tasks);
        var curve = Train(model, settings, settings.GeneralistSteps, useKtm ? 30ul : 31ul, log, useKtm ? "up-g" : "up-g (no KTM)");
        return (generalist, model, curve);
    }

    /// <summary>An untrained Up-G over copies of the experts' nets (and the detection expert's FPN).</summary>
    public static GeneralistBackbone CreateGeneralist(IReadOnlyList<ExpertTrunk> experts, InternSettings settings, bool useKtm)
    {
        var nets = Enumerable.Range(0, 3).Select(t => CopyNet(experts[t].Net, settings, 26 + t, t == (int)TaskType.Segmentation)).ToArray();
        var generalist = new GeneralistBackbone(nets[0], nets[1], nets[2], settings.HeadWidth, useKtm, InternTasks.Stream(settings.Seed, 29));
        if (experts[(int)TaskType.Detection].SharedFpn is { } fpn) generalist.PatchFpn.LoadStateDict(fpn.StateDict());
        return generalist;
    }

    /// <summary>A copy of an Up-G (same structure and weights; MF fine-tunes copies and builds its momentum encoder from one).</summary>
    public static GeneralistBackbone CloneGeneralist(GeneralistBackbone source, InternSettings settings)
    {
        var nets = Enumerable.Range(0, 3).Select(t => CreateNet(settings, 26 + t, t == (int)TaskType.Segmentation)).ToArray();
        var copy = new GeneralistBackbone(nets[0], nets[1], nets[2], settings.HeadWidth, source.UseKtm, InternTasks.Stream(settings.Seed, 29));
        copy.LoadStateDict(source.StateDict());
        return copy;
    }

    /// <summary>The supervised baseline: a MetaNet of the same size trained on shapes-cls alone for the Up-A step budget.</summary>
    public static (ExpertTrunk Trunk, List<LossPoint> Curve) TrainSupervised(InternSettings settings, Action<string>? log)
    {
        var trunk = new ExpertTrunk(CreateNet(settings, 5), null, InternTasks.Stream(settings.Seed, 6));
        var model = new MultiTaskModel(trunk, InternTasks.Build([new InternSource("shapes-cls", TaskType.Classification, 1)], trunk, settings, InternTasks.Stream(settings.Seed, 7)));
        var curve = Train(model, settings with { Devices = 1 }, settings.UpASteps, 5, log, "supervised (shapes-cls)");
        return (trunk, curve);
    }

    /// <summary>Trains a multi-task model with SIMT for <paramref name="steps"/> steps; returns the loss curve.</summary>
    public static List<LossPoint> Train(MultiTaskModel model, InternSettings settings, int steps, ulong stream, Action<string>? log, string label)
    {
        var optimizer = new AdamW(model.Parameters(), settings.LearningRate, weightDecay: settings.WeightDecay);
        var scheduler = new LearningRateScheduler(optimizer, WarmupCosine(settings.Warmup, steps));
        var trainer = new MultiTaskTrainer(model, optimizer, scheduler, new TrainerOptions(settings.Devices, MultiTaskTrainer.Mix(settings.Seed, stream, 0), EvalBatches: 2));
        var curve = new List<LossPoint>(steps);
        var progress = new Progress(log, label, steps);
        for (int s = 0; s < steps; s++)
        {
            var result = trainer.RunStep();
            curve.Add(new LossPoint(s, result.Loss));
            progress.Report(s + 1, result.Loss);
        }
        return curve;
    }

    /// <summary>Linear warm-up then cosine decay to 5% over <paramref name="steps"/>.</summary>
    public static Schedule WarmupCosine(int warmup, int steps)
    {
        warmup = Math.Min(warmup, Math.Max(0, steps - 1));
        var cosine = Schedule.Cosine(Math.Max(1, steps - warmup), 0.05);
        return warmup > 0 ? Schedule.Warmup(warmup, cosine) : cosine;
    }
}

/// <summary>Progress of a stage as a few log lines (every tenth of the way).</summary>
internal sealed class Progress(Action<string>? log, string label, int total)
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private int _reported = -1;

    public void Report(long done, double loss)
    {
        if (log is null || total <= 0) return;
        int tenth = (int)(done * 10 / total);
        if (tenth <= _reported) return;
        _reported = tenth;
        if (tenth % 5 != 0 && done != total) return;
        log(FormattableString.Invariant($"    {label}: step {done}/{total} loss {loss:F4} ({_clock.Elapsed.TotalSeconds:F0} s)"));
    }
}
