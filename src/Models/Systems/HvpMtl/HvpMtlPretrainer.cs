using System.Globalization;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.Loading;
using Tessera.Models.Data.World;
using Tessera.Models.Objectives;
using Tessera.Models.Optim;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.HvpMtl;

/// <summary>The four unweighted losses of one step (NaN where the objective is off) and the weighted total.</summary>
public sealed record HvpLosses(int Step, double MultiLabel, double Contrastive, double Mim, double Momentum, double Total);

/// <summary>
/// HVP-MTL's joint pre-training (Eq. 7): L = α1·L_ml + α2·L_cl + α3·L_mim + α4·L_mom, AdamW
/// (weight decay on every parameter, our simplification), linear warm-up then cosine decay to
/// 1e-3 of the peak (the paper: 1e-4 → 1e-7). One step:
/// view 1 → backbone → Query2Label (weighted ASL on the noisy tags) and g (momentum distillation
/// against the EMA teacher's S(g', Q0') on the same view, Eq. 6); view 2, with SimMIM's aligned
/// block mask when MIM is on → backbone → the light decoder (masked L1) and SwAV's f_s, swapped
/// with view 1's f_t (Eq. 2). Patch masking is one of the paper's views (Fig. 2), so the masked
/// view 2 serves both SimMIM and the contrastive pair (one backbone pass less per step; our choice).
/// After the optimiser step the teacher moves: θ' ← m·θ' + (1 − m)·θ.
/// </summary>
public sealed class HvpMtlPretrainer
{
    private readonly AsymmetricLossSettings _loss;
    private readonly Generator _masks;

    /// <summary>Builds the model, teacher and optimiser; the settings are checked first (nothing is trained or written on bad input).</summary>
    public HvpMtlPretrainer(HvpMtlSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Settings = settings;
        _loss = settings.LossSettings;
        Source = settings.DataSource();
        Model = new HvpMtlModel(settings);
        if (settings.UsesMomentum)
            Teacher = new MomentumTeacher<HvpEncoder>(Model.Encoder, Model.CreateTeacherEncoder());
        Optimizer = new AdamW(Model.Parameters(), settings.LearningRate, weightDecay: settings.WeightDecay);
        int warmup = Math.Min(settings.Warmup, Math.Max(0, settings.Steps - 1));
        var cosine = Schedule.Cosine(Math.Max(1, settings.Steps - warmup), 1e-3);
        Scheduler = new LearningRateScheduler(Optimizer, warmup > 0 ? Schedule.Warmup(warmup, cosine) : cosine);
        _masks = HvpMtlModel.InitStream(settings.Seed, 3);
    }

    public HvpMtlSettings Settings { get; }
    public WorldSource Source { get; }
    public HvpMtlModel Model { get; }
    public MomentumTeacher<HvpEncoder>? Teacher { get; }
    public AdamW Optimizer { get; }
    public LearningRateScheduler Scheduler { get; }
    public int StepCount { get; private set; }

    /// <summary>Runs every step of the schedule; <paramref name="log"/> gets a line every tenth of the way.</summary>
    public List<HvpLosses> Run(Action<string>? log, string label = "pre-train")
    {
        var curve = new List<HvpLosses>(Settings.Steps);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int first = StepCount; // the loader runs ahead on its own thread: batch i is step first + i, whatever StepCount is by then
        using var loader = new BackgroundLoader<HvpBatch>(Settings.Steps - first, i => HvpViews.Batch(Source, Settings, first + i));
        int reported = 0;
        foreach (var batch in loader.Batches())
        {
            HvpLosses losses;
            using (batch) losses = Step(batch);
            curve.Add(losses);
            int tenth = StepCount * 10 / Settings.Steps;
            if (log is not null && (tenth > reported || StepCount == Settings.Steps))
            {
                reported = tenth;
                log(string.Create(CultureInfo.InvariantCulture,
                    $"    {label}: step {StepCount}/{Settings.Steps} ml {losses.MultiLabel:G4} cl {losses.Contrastive:G4} mim {losses.Mim:G4} mom {losses.Momentum:G4} ({clock.Elapsed.TotalSeconds:F0} s)"));
            }
        }
        return curve;
    }

    /// <summary>One optimiser step on <paramref name="batch"/>; returns the losses.</summary>
    public HvpLosses Step(HvpBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var s = Settings;
        Model.Train();
        if (s.UsesContrastive) Model.Swav.NormalisePrototypes();
        using var scope = new TensorScope();
        var vit = Model.Encoder.Backbone;
        Tensor? total = null;
        double ml = double.NaN, cl = double.NaN, mim = double.NaN, mom = double.NaN;
        void Add(Tensor loss, float weight, ref double value)
        {
            value = loss.Item();
            if (!double.IsFinite(value))
                throw new NonFiniteLossException(string.Create(CultureInfo.InvariantCulture, $"hvp-mtl: non-finite loss ({value}) at step {StepCount}; lower 'optimizer.lr'"));
            var weighted = loss * weight;
            total = total is null ? weighted : total + weighted;
        }

        Tensor? tokens1 = s.UsesMultiLabel || s.UsesMomentum || s.UsesContrastive ? vit.ForwardTokens(batch.View1) : null;
        if (s.UsesMultiLabel || s.UsesMomentum)
        {
            var output = Model.Encoder.Labels.Forward(tokens1!);
            if (s.UsesMultiLabel) Add(AsymmetricLoss.Compute(output.Logits, batch.Tags, _loss), s.MultiLabelWeight, ref ml);
            if (s.UsesMomentum)
            {
                var student = MomentumDistillation.Similarities(HvpEncoder.Embedding(output), Model.Encoder.Labels.QueryEmbed, s.DistillTemperature);
                Tensor teacher;
                using (GradMode.NoGrad())
                {
                    var encoder = Teacher!.Teacher;
                    var teacherOutput = encoder.Labels.Forward(encoder.Backbone.ForwardTokens(batch.View1));
                    teacher = MomentumDistillation.Similarities(HvpEncoder.Embedding(teacherOutput), encoder.Labels.QueryEmbed, s.DistillTemperature);
                }
                Add(MomentumDistillation.SymmetricKl(student, teacher), s.MomentumWeight, ref mom);
            }
        }
        if (s.UsesContrastive || s.UsesMim)
        {
            int grid = s.ImageSize / s.PatchSize;
            Tensor? mask = null;
            if (s.UsesMim)
            {
                var masks = new bool[s.Batch][];
                for (int b = 0; b < s.Batch; b++) masks[b] = PatchMasking.Aligned(grid, grid, s.MaskRatio, s.MaskBlock / s.PatchSize, _masks);
                mask = PatchMasking.ToTensor(masks);
            }
            var tokens2 = mask is null ? vit.ForwardTokens(batch.View2) : vit.ForwardTokens(batch.View2, mask, Model.Mim.MaskToken);
            if (s.UsesMim)
            {
                var reconstruction = Model.Mim.Forward(tokens2, grid, grid);
                Add(SimMimLoss.MaskedL1(reconstruction, batch.View2, SimMimLoss.PixelMask(mask!, grid, grid, s.PatchSize)), s.MimWeight, ref mim);
            }
            if (s.UsesContrastive)
            {
                var scoresT = Model.Swav.Scores(Model.Swav.Project(Functional.Mean(tokens1!, 1)));
                var scoresS = Model.Swav.Scores(Model.Swav.Project(Functional.Mean(tokens2, 1)));
                Add(SwavLoss.Swapped(scoresT, scoresS, s.SwavTemperature, s.SinkhornEpsilon, s.SinkhornIterations, s.SinkhornClamp), s.ContrastiveWeight, ref cl);
            }
        }
        double value = total!.Item();
        total.Backward(null, freeActivations: true);
        Optimizer.Step();
        Scheduler.Step();
        Optimizer.ZeroGrad();
        Teacher?.Update(Model.Encoder, s.Momentum);
        StepCount++;
        return new HvpLosses(StepCount - 1, ml, cl, mim, mom, value);
    }
}
