using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.World;
using Tessera.Models.Nn;
using Tessera.Models.Objectives;
using Tessera.Models.Optim;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Systems.Intern;

/// <summary>
/// Up-A-L's region encoder: an FPN over the frozen backbone's C2..C5 ("fpn"), RoIAlign 7x7 of each
/// proposal on its assigned level, a box head (flatten → Linear → ReLU, "head") and a projector
/// (Linear → ReLU → Linear, "projector"). The online network adds a predictor; the target is an
/// EMA copy of this module without one.
/// </summary>
public sealed class RegionEncoder : Module
{
    public RegionEncoder(IReadOnlyList<int> channels, int width, int dim, Generator generator)
    {
        Fpn = RegisterModule("fpn", new Fpn(channels, width, generator));
        Head = RegisterModule("head", new Linear(width * 49, 4 * dim, generator: generator));
        Projector = RegisterModule("projector", new Sequential(new Linear(4 * dim, 2 * dim, generator: generator), Lambda.Relu(), new Linear(2 * dim, dim, generator: generator)));
    }

    public Fpn Fpn { get; }
    public Linear Head { get; }
    public Sequential Projector { get; }

    /// <summary>Backbone maps of a view, proposals [K, 5] (image index, x1, y1, x2, y2 in view pixels), levels [K] → projections [K, dim].</summary>
    public Tensor Forward(IReadOnlyList<Tensor> maps, Tensor boxes, Tensor levels, IReadOnlyList<int> strides)
    {
        var pyramid = Fpn.Forward(maps);
        var pooled = F.MultiScaleRoiAlign(pyramid, boxes, levels, (7, 7), strides.Select(s => 1f / s).ToArray(), samplingRatio: 2, aligned: true);
        return Projector.Forward(F.Relu(Head.Forward(pooled.Flatten(1))));
    }
}

/// <summary>
/// Up-A-L, the localisation half of Up-A: the Up-A-G backbone is frozen (eval mode, no gradient);
/// per image, random square proposals (our stand-in for selective search) are drawn inside the
/// region both augmented views share, each assigned to P2..P5 with probabilities 0.1/0.2/0.3/0.4
/// (the same level in both views), pooled by RoIAlign 7x7 and encoded; the online encoder plus a
/// predictor regresses the EMA target's projection of the matching proposal in the other view
/// (BYOL, symmetrised; target momentum 0.99, our choice at this step count).
/// </summary>
public sealed class UpLocal
{
    public static readonly double[] LevelProbabilities = [0.1, 0.2, 0.3, 0.4];
    private readonly MetaNet _backbone;
    private readonly InternSettings _settings;
    private readonly Sequential _predictor;
    private readonly MomentumTeacher<RegionEncoder> _target;
    private readonly AdamW _optimizer;
    private readonly LearningRateScheduler _scheduler;
    private readonly Generator _data;
    private readonly WorldSource _captions = WorldSources.Get("captions");

    public UpLocal(MetaNet backbone, InternSettings settings, int proposalsPerImage = 8, int dim = 32)
    {
        _backbone = backbone;
        _settings = settings;
        ProposalsPerImage = proposalsPerImage;
        var generator = InternTasks.Stream(settings.Seed, 3);
        Online = new RegionEncoder(backbone.FeatureChannels, settings.HeadWidth, dim, generator);
        _target = new MomentumTeacher<RegionEncoder>(Online, new RegionEncoder(backbone.FeatureChannels, settings.HeadWidth, dim, generator));
        _predictor = new Sequential(new Linear(dim, 2 * dim, generator: generator), Lambda.Relu(), new Linear(2 * dim, dim, generator: generator));
        _optimizer = new AdamW(Online.Parameters().Concat(_predictor.Parameters()), settings.LearningRate, weightDecay: settings.WeightDecay);
        _scheduler = new LearningRateScheduler(_optimizer, InternStages.WarmupCosine(settings.Warmup, Math.Max(1, settings.UpALSteps)));
        _data = new Generator(MultiTaskTrainer.Mix(settings.Seed, 61, 0));
    }

    public int ProposalsPerImage { get; }

    /// <summary>The online region encoder (its FPN is Up-A-L's trained neck).</summary>
    public RegionEncoder Online { get; }

    public List<LossPoint> Run(int steps, Action<string>? log)
    {
        var curve = new List<LossPoint>(steps);
        var progress = new Progress(log, "up-a-l", steps);
        _backbone.Eval();
        for (int step = 0; step < steps; step++)
        {
            using var scope = new TensorScope();
            var indices = Enumerable.Range(0, _settings.Batch).Select(_ => (long)_data.NextInt(int.MaxValue)).ToArray();
            var batch = WorldBatch.Create(_captions, "train", indices, WorldTaskSource.WorldSeed, _settings.Size);
            var (view1, t1) = ImageViews.Augment(batch.Images, _data);
            var (view2, t2) = ImageViews.Augment(batch.Images, _data);
            var (boxes1, boxes2, levels) = Proposals(t1, t2);
            IReadOnlyList<Tensor> maps1, maps2;
            using (GradMode.NoGrad())
            {
                maps1 = _backbone.ForwardFeatures(view1);
                maps2 = _backbone.ForwardFeatures(view2);
            }
            var strides = _backbone.FeatureStrides;
            var online1 = _predictor.Forward(Online.Forward(maps1, boxes1, levels, strides));
            var online2 = _predictor.Forward(Online.Forward(maps2, boxes2, levels, strides));
            Tensor target1, target2;
            using (GradMode.NoGrad())
            {
                target1 = _target.Teacher.Forward(maps1, boxes1, levels, strides);
                target2 = _target.Teacher.Forward(maps2, boxes2, levels, strides);
            }
            var loss = (FeatureLosses.Byol(online1, target2) + FeatureLosses.Byol(online2, target1)) * 0.5f;
            double value = loss.Item();
            loss.Backward();
            _optimizer.Step();
            _scheduler.Step();
            _optimizer.ZeroGrad();
            _target.Update(Online, 0.99f);
            curve.Add(new LossPoint(step, value));
            progress.Report(step + 1, value);
        }
        _backbone.Train();
        return curve;
    }

    /// <summary>Matching proposals in both views ([K, 5] each) and their shared levels [K].</summary>
    private (Tensor Boxes1, Tensor Boxes2, Tensor Levels) Proposals(ViewTransform[] first, ViewTransform[] second)
    {
        int count = first.Length * ProposalsPerImage;
        var boxes1 = new float[count * 5];
        var boxes2 = new float[count * 5];
        var levels = new long[count];
        var u = new float[4];
        for (int b = 0, k = 0; b < first.Length; b++)
        {
            var (a, c) = (first[b], second[b]);
            // The square both crops contain (crops cover >= 60% of the side, so it is never empty).
            float left = Math.Max(a.X0, c.X0), top = Math.Max(a.Y0, c.Y0);
            float side = Math.Max(1f, Math.Min(Math.Min(a.X0 + a.Side, c.X0 + c.Side) - left, Math.Min(a.Y0 + a.Side, c.Y0 + c.Side) - top));
            for (int p = 0; p < ProposalsPerImage; p++, k++)
            {
                _data.Uniform(u);
                float size = side * (0.25f + 0.75f * u[0]);
                float x1 = left + (side - size) * u[1], y1 = top + (side - size) * u[2];
                var r1 = a.Map(x1, y1, x1 + size, y1 + size);
                var r2 = c.Map(x1, y1, x1 + size, y1 + size);
                boxes1[k * 5] = boxes2[k * 5] = b;
                (boxes1[k * 5 + 1], boxes1[k * 5 + 2], boxes1[k * 5 + 3], boxes1[k * 5 + 4]) = r1;
                (boxes2[k * 5 + 1], boxes2[k * 5 + 2], boxes2[k * 5 + 3], boxes2[k * 5 + 4]) = r2;
                double draw = u[3], cumulative = 0;
                int level = LevelProbabilities.Length - 1;
                for (int l = 0; l < LevelProbabilities.Length; l++)
                {
                    cumulative += LevelProbabilities[l];
                    if (draw < cumulative) { level = l; break; }
                }
                levels[k] = Math.Min(level, _backbone.StageCount - 1);
            }
        }
        return (Tensor.FromArray(boxes1, count, 5), Tensor.FromArray(boxes2, count, 5), Tensor.FromArray(levels, count));
    }
}
