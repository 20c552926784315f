using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using F = Tessera.Autograd.Functional;

namespace Tessera.Models.Systems.Intern;

/// <summary>
/// A knowledge-transfer module into stage d of one branch: every input (another branch's stage
/// j ≤ d output, detached by the caller) is resized to stage d's map (adaptive average pooling
/// when larger, nearest upsampling when smaller), projected by its own 1x1 conv to stage d's
/// width; the sum goes through BN + ReLU (the non-linearity) and a 1x1 output conv that starts at
/// zero, so a fresh Up-G is exactly hard sharing and the KTM learns what to add (our choice: the
/// paper does not give the KTM's initialisation). State dict: "inputs.{i}.*", "bn.*", "out.*".
/// </summary>
public sealed class KnowledgeTransferModule : Module
{
    private readonly ModuleList<Conv2d> _inputs;
    private readonly BatchNorm2d _bn;
    private readonly Conv2d _out;

    public KnowledgeTransferModule(IReadOnlyList<int> inputChannels, int outChannels, Generator generator)
    {
        _inputs = RegisterModule("inputs", new ModuleList<Conv2d>(inputChannels.Select(c => new Conv2d(c, outChannels, 1, bias: false, generator: generator))));
        _bn = RegisterModule("bn", new BatchNorm2d(outChannels));
        _out = RegisterModule("out", new Conv2d(outChannels, outChannels, 1, bias: false, generator: generator));
        using (GradMode.NoGrad()) _out.Weight.Zero();
    }

    /// <summary>The output projection (zero at initialisation; tests zero it to compare with hard sharing).</summary>
    public Conv2d Output => _out;

    public Tensor Forward(IReadOnlyList<Tensor> inputs, int height, int width)
    {
        if (inputs.Count != _inputs.Count)
            throw new ArgumentException($"KTM: expected {_inputs.Count} inputs, found {inputs.Count}", nameof(inputs));
        Tensor? sum = null;
        for (int i = 0; i < inputs.Count; i++)
        {
            var projected = _inputs[i].Forward(Resize(inputs[i], height, width));
            sum = sum is null ? projected : sum + projected;
        }
        return _out.Forward(F.Relu(_bn.Forward(sum!)));
    }

    internal static Tensor Resize(Tensor map, int height, int width)
    {
        if (map.Size(2) == height && map.Size(3) == width) return map;
        return map.Size(2) > height ? F.AdaptiveAvgPool2d(map, (height, width)) : F.Interpolate(map, (height, width), mode: InterpolationMode.Nearest);
    }
}

/// <summary>
/// Up-G, INTERN's generalist: the three expert backbones as branches (image-wise from the
/// classification expert, patch-wise from the detection expert, pixel-wise from the segmentation
/// expert), stage by stage; with KTMs, branch t's stage d output becomes
///   F_d^t = E_d^t + KTM_d^t({stopgrad(E_j^k) : k ≠ t, j ≤ d})
/// and F_d^t feeds stage d + 1. Unified (hard-shared) outputs: each branch's fused C5 is
///   U^t = F_last^t + P^t(concat_{k≠t} resize(F_last^k))
/// with P^t a zero-initialised 1x1 conv, i.e. a linear map of the concatenated C5s that starts as
/// the branch's own (so the Up-E heads load unchanged). Image-wise tasks read [U^image] (the
/// classification head pools it: a linear head on the concatenated C5s); patch-wise tasks read the
/// patch branch's FPN (from the detection expert) over [F_0, F_1, F_2, U^patch]; pixel-wise tasks
/// read [F_0, F_1, F_2, U^pixel] of the pixel branch. Every branch's batch norms are its own
/// (task-specific BN per branch) and are synchronised across the SIMT devices, which all run
/// every branch. Without KTMs (<c>useKtm: false</c>) only the unified outputs join the branches.
/// State dict: "branches.{image|patch|pixel}.*", "ktms.{branch}_{d}.*", "unify.{branch}.*", "fpn.*".
/// </summary>
public sealed class GeneralistBackbone : Module, IInternBackbone
{
    public static readonly IReadOnlyList<string> BranchNames = ["image", "patch", "pixel"];

    private readonly ModuleDict<MetaNet> _branches;
    private readonly ModuleDict<KnowledgeTransferModule>? _ktms;
    private readonly ModuleDict<Conv2d> _unify;
    private readonly Fpn _fpn;
    private readonly Dictionary<string, TaskType> _routes = new(StringComparer.Ordinal);
    [Unregistered] // the branches in task order; registered (and owned) through _branches
    private readonly MetaNet[] _ordered;

    public GeneralistBackbone(MetaNet image, MetaNet patch, MetaNet pixel, int fpnWidth, bool useKtm, Generator generator)
    {
        _ordered = [image, patch, pixel];
        int stages = image.StageCount;
        for (int b = 1; b < 3; b++)
            if (_ordered[b].StageCount != stages)
                throw new ArgumentException($"intern: 'model.stages' of every Up-G branch expected the same stage count for KTMs ({BranchNames[0]} has {stages}), found {_ordered[b].StageCount} in the {BranchNames[b]} branch", nameof(patch));
        if (stages < 2)
            throw new ArgumentException($"intern: Up-G expected at least 2 stages per branch, found {stages}", nameof(image));
        _branches = RegisterModule("branches", new ModuleDict<MetaNet>());
        for (int b = 0; b < 3; b++) _branches.Add(BranchNames[b], _ordered[b]);
        UseKtm = useKtm;
        if (useKtm)
        {
            _ktms = RegisterModule("ktms", new ModuleDict<KnowledgeTransferModule>());
            for (int t = 0; t < 3; t++)
                for (int d = 0; d < stages; d++)
                {
                    var inputs = new List<int>();
                    for (int k = 0; k < 3; k++)
                        if (k != t)
                            for (int j = 0; j <= d; j++) inputs.Add(_ordered[k].FeatureChannels[j]);
                    _ktms.Add($"{BranchNames[t]}_{d}", new KnowledgeTransferModule(inputs, _ordered[t].FeatureChannels[d], generator));
                }
        }
        _unify = RegisterModule("unify", new ModuleDict<Conv2d>());
        for (int t = 0; t < 3; t++)
        {
            int others = Enumerable.Range(0, 3).Where(k => k != t).Sum(k => _ordered[k].FeatureChannels[^1]);
            var conv = new Conv2d(others, _ordered[t].FeatureChannels[^1], 1, bias: false, generator: generator);
            using (GradMode.NoGrad()) conv.Weight.Zero();
            _unify.Add(BranchNames[t], conv);
        }
        _fpn = RegisterModule("fpn", new Fpn(patch.FeatureChannels, fpnWidth, generator));
    }

    public bool UseKtm { get; }

    public MetaNet Branch(TaskType type) => _ordered[(int)type];

    /// <summary>The KTM into stage <paramref name="stage"/> of a branch (null without KTMs).</summary>
    public KnowledgeTransferModule? Ktm(TaskType type, int stage) => _ktms?[$"{BranchNames[(int)type]}_{stage}"];

    public IEnumerable<KnowledgeTransferModule> Ktms => _ktms?.Select(kv => kv.Value) ?? [];

    /// <summary>The patch branch's FPN (loaded from the detection expert's shared FPN).</summary>
    public Fpn PatchFpn => _fpn;

    public Module Module => this;

    /// <summary>Task name → the branch output it reads (upstream sources and downstream suites).</summary>
    public void Route(string task, TaskType type) => _routes[task] = type;

    public TaskType RouteOf(string task) => _routes.TryGetValue(task, out var type) ? type
        : throw new ArgumentException($"intern: task '{task}' has no Up-G route; routed: {string.Join(", ", _routes.Keys)}", nameof(task));

    public IReadOnlyList<int> FeatureChannels => ShapeOf(TaskType.Segmentation).Channels;

    public IReadOnlyList<int> FeatureStrides => ShapeOf(TaskType.Segmentation).Strides;

    public FeatureShape ShapeOf(TaskType type) => type switch
    {
        TaskType.Classification => new([_ordered[0].FeatureChannels[^1]], [_ordered[0].FeatureStrides[^1]]),
        TaskType.Detection => new(_ordered[1].FeatureChannels.Select(_ => _fpn.OutChannels).ToArray(), _ordered[1].FeatureStrides),
        _ => new(_ordered[2].FeatureChannels, _ordered[2].FeatureStrides),
    };

    public Features Forward(string task, Tensor input) => Forward(RouteOf(task), input);

    public Features Forward(TaskType type, Tensor input)
    {
        var fused = ForwardBranches(input);
        int t = (int)type;
        var maps = fused[t].ToArray();
        maps[^1] = Unified(fused, t);
        return type switch
        {
            TaskType.Classification => new Features(maps[^1]),
            TaskType.Detection => new Features(_fpn.Forward(maps)),
            _ => new Features(maps),
        };
    }

    /// <summary>Every branch's stage outputs F_d^t (with KTMs), finest first: [branch][stage].</summary>
    public Tensor[][] ForwardBranches(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        int stages = _ordered[0].StageCount;
        var own = new Tensor[3][];
        var fused = new Tensor[3][];
        var current = new Tensor[3];
        for (int t = 0; t < 3; t++)
        {
            own[t] = new Tensor[stages];
            fused[t] = new Tensor[stages];
            current[t] = _ordered[t].Stem(input);
        }
        for (int d = 0; d < stages; d++)
        {
            for (int t = 0; t < 3; t++) own[t][d] = _ordered[t].Stage(d, current[t]);
            for (int t = 0; t < 3; t++)
            {
                var e = own[t][d];
                if (_ktms is not null)
                {
                    var inputs = new List<Tensor>();
                    for (int k = 0; k < 3; k++)
                        if (k != t)
                            for (int j = 0; j <= d; j++) inputs.Add(own[k][j].Detach());
                    e = e + _ktms[$"{BranchNames[t]}_{d}"].Forward(inputs, e.Size(2), e.Size(3));
                }
                fused[t][d] = current[t] = e;
            }
        }
        return fused;
    }

    private Tensor Unified(Tensor[][] fused, int t)
    {
        var own = fused[t][^1];
        var others = Enumerable.Range(0, 3).Where(k => k != t).Select(k => KnowledgeTransferModule.Resize(fused[k][^1], own.Size(2), own.Size(3))).ToArray();
        return own + _unify[BranchNames[t]].Forward(F.Cat(others, 1));
    }
}
