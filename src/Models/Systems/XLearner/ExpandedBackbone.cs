using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using Tessera.Models.Recipes;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.XLearner;

/// <summary>Where the expansion stage is (Algorithm 1): each sub-backbone alone, or joined by reconciliation layers.</summary>
public enum ExpansionPhase
{
    /// <summary>Steps k ≤ tau: task t's batches run sub-backbone E^t only.</summary>
    Alone,

    /// <summary>Steps k &gt; tau: task t's batches run the expanded backbone (Eq. 2).</summary>
    Joint,
}

/// <summary>
/// X-Learner's expanded backbone: one ResNet-style sub-backbone E^t per task group (basic blocks,
/// BatchNorm, stem of <c>width</c> channels, stages width·2width·4width at strides 4, 8, 16) and
/// reconciliation layers between them. In the joint phase the fused output of layer i of task t is
///   F_i^t = E_i^t + Σ_{k≠t} Σ_{j≤i} gamma_{j→i}^{k→t}(stopgrad(E_j^k))        (Eq. 2, bottom-up)
/// where E_i^t = layer_i^t(F_{i−1}^t) is layer i's own output and F_i^t feeds layer i + 1. All groups
/// are computed layer by layer in one pass (acyclic for bottom-up). Top-down (X-Learner_t) sums
/// j ≥ i instead; since deeper layers of task k would otherwise depend on task t's fused layers
/// (a cycle), its inputs E_j^k are taken from task k's plain path (no fusion into k): our choice,
/// the paper does not say. The inputs of every reconciliation layer are detached, so task t's
/// loss reaches E^t and the gammas into t, never another sub-backbone.
/// State dict: "experts.{group}.*" (torchvision ResNet names) and "gammas.{k}_to_{t}_{j}_to_{i}.*".
/// </summary>
public sealed class ExpandedBackbone : Module, IMultiScaleBackbone
{
    private readonly ModuleDict<ResNet> _experts;
    private readonly ModuleDict<ReconciliationLayer>? _gammas;
    private readonly Dictionary<string, int> _taskGroup;

    /// <param name="groups">Task group names (classification, detection, ...), one sub-backbone each.</param>
    /// <param name="taskGroups">Every task (source) name → its group; <see cref="Forward"/> routes by it.</param>
    /// <param name="inChannels">Image channels.</param>
    /// <param name="width">Stem width of each sub-backbone (stages width, 2·width, 4·width).</param>
    /// <param name="depth">Basic blocks per stage.</param>
    /// <param name="kind">Reconciliation kind (None: "w/o Rec", no gamma parameters at all).</param>
    /// <param name="generator">Initialisation stream.</param>
    public ExpandedBackbone(IReadOnlyList<string> groups, IReadOnlyDictionary<string, string> taskGroups, int inChannels, int width, int depth,
        ReconciliationKind kind, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(taskGroups);
        ArgumentNullException.ThrowIfNull(generator);
        if (groups.Count == 0 || groups.Distinct(StringComparer.Ordinal).Count() != groups.Count)
            throw new ArgumentException($"ExpandedBackbone: expected at least one distinct task group, found [{string.Join(", ", groups)}]", nameof(groups));
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        var groupNames = groups.ToArray();
        Groups = groupNames;
        Kind = kind;
        Width = width;
        _taskGroup = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (task, group) in taskGroups)
        {
            int index = Array.IndexOf(groupNames, group);
            if (index < 0)
                throw new ArgumentException($"ExpandedBackbone: task '{task}' names group '{group}', expected one of [{string.Join(", ", groups)}]", nameof(taskGroups));
            _taskGroup[task] = index;
        }
        _experts = RegisterModule("experts", new ModuleDict<ResNet>());
        foreach (var group in Groups)
            _experts.Add(group, new ResNet(ResNetBlock.Basic, [depth, depth, depth], [width, 2 * width, 4 * width], numClasses: 0, inChannels: inChannels,
                stemChannels: width, generator: generator));
        var first = _experts[Groups[0]];
        FeatureChannels = first.FeatureChannels;
        FeatureStrides = first.FeatureStrides;
        if (kind == ReconciliationKind.None || Groups.Count < 2) return;
        _gammas = RegisterModule("gammas", new ModuleDict<ReconciliationLayer>());
        int levels = FeatureChannels.Count;
        foreach (var to in Groups)
            foreach (var from in Groups.Where(g => g != to))
                for (int i = 0; i < levels; i++)
                    for (int j = 0; j < levels; j++)
                        if (kind == ReconciliationKind.BottomUp ? j <= i : j >= i)
                            _gammas.Add(ReconciliationLayer.Key(from, to, j, i), new ReconciliationLayer(FeatureChannels, j, i, generator));
    }

    /// <summary>Task groups, one sub-backbone each, in order.</summary>
    public IReadOnlyList<string> Groups { get; }

    public ReconciliationKind Kind { get; }

    /// <summary>Stem width of each sub-backbone.</summary>
    public int Width { get; }

    /// <summary>Alone (steps ≤ tau) or Joint; the trainer sets it (<c>ExpansionSchedule</c>).</summary>
    public ExpansionPhase Phase { get; set; } = ExpansionPhase.Alone;

    public Module Module => this;

    public IReadOnlyList<int> FeatureChannels { get; }

    public IReadOnlyList<int> FeatureStrides { get; }

    /// <summary>Sub-backbone E^group.</summary>
    public ResNet Expert(string group) => _experts[group];

    /// <summary>gamma_{j→i}^{k→t} (0-based layers), or null when the backbone has no such layer.</summary>
    public ReconciliationLayer? Gamma(string fromGroup, string toGroup, int from, int to) =>
        _gammas is not null && _gammas.TryGet(ReconciliationLayer.Key(fromGroup, toGroup, from, to), out var gamma) ? gamma : null;

    /// <summary>Every reconciliation layer by key (empty without reconciliation).</summary>
    public IEnumerable<KeyValuePair<string, ReconciliationLayer>> Gammas => _gammas ?? Enumerable.Empty<KeyValuePair<string, ReconciliationLayer>>();

    /// <summary>The group index of a task (source) name.</summary>
    public int GroupOf(string task) => _taskGroup.TryGetValue(task, out int group)
        ? group
        : throw new ArgumentException($"ExpandedBackbone: task '{task}' belongs to no group; known tasks: {string.Join(", ", _taskGroup.Keys)}", nameof(task));

    /// <summary>F^t for the task's group: E^t alone in the Alone phase, Eq. 2 in the Joint phase.</summary>
    public Features Forward(string task, Tensor input)
    {
        int group = GroupOf(task);
        return new Features(ForwardGroups(input, group)[group]!);
    }

    /// <summary>
    /// Layer outputs of the groups: with <paramref name="gradGroup"/> set, only that group's entry is
    /// filled (other groups run without gradient as detached inputs); with null, every group's
    /// F^t is returned with its own graph (the whole expanded backbone as one representation).
    /// </summary>
    public IReadOnlyList<Tensor>?[] ForwardGroups(Tensor input, int? gradGroup)
    {
        ArgumentNullException.ThrowIfNull(input);
        int groups = Groups.Count;
        var result = new IReadOnlyList<Tensor>?[groups];
        bool joined = Phase == ExpansionPhase.Joint && _gammas is not null;
        if (!joined)
        {
            for (int t = 0; t < groups; t++)
                if (gradGroup is null || gradGroup == t) result[t] = _experts[Groups[t]].ForwardFeatures(input);
            return result;
        }
        return Kind == ReconciliationKind.BottomUp ? BottomUp(input, gradGroup) : TopDown(input, gradGroup);
    }

    private IReadOnlyList<Tensor>?[] BottomUp(Tensor input, int? gradGroup)
    {
        int groups = Groups.Count, levels = FeatureChannels.Count;
        var own = new Tensor[groups][];   // E_i^k: layer i's own output, detached copies feed the gammas
        var fused = new Tensor[groups][]; // F_i^k
        var x = new Tensor[groups];
        for (int k = 0; k < groups; k++)
        {
            own[k] = new Tensor[levels];
            fused[k] = new Tensor[levels];
            using var mode = WithGrad(gradGroup, k);
            x[k] = Stem(_experts[Groups[k]], input);
        }
        for (int i = 0; i < levels; i++)
        {
            for (int k = 0; k < groups; k++)
            {
                using var mode = WithGrad(gradGroup, k);
                own[k][i] = _experts[Groups[k]].Stages[i].Forward(x[k]);
            }
            for (int t = 0; t < groups; t++)
            {
                using var mode = WithGrad(gradGroup, t);
                var f = own[t][i];
                for (int k = 0; k < groups; k++)
                {
                    if (k == t) continue;
                    for (int j = 0; j <= i; j++)
                    {
                        var contribution = _gammas![ReconciliationLayer.Key(Groups[k], Groups[t], j, i)].Forward(own[k][j].Detach());
                        ReconciliationLayer.CheckSameShape(f, contribution, $"{Groups[k]}→{Groups[t]}");
                        f = f + contribution;
                    }
                }
                fused[t][i] = f;
                x[t] = f;
            }
        }
        var result = new IReadOnlyList<Tensor>?[groups];
        for (int t = 0; t < groups; t++)
            if (gradGroup is null || gradGroup == t) result[t] = fused[t];
        return result;
    }

    private IReadOnlyList<Tensor>?[] TopDown(Tensor input, int? gradGroup)
    {
        int groups = Groups.Count, levels = FeatureChannels.Count;
        // Plain paths of every group: the (detached) inputs of the top-down gammas.
        var plain = new IReadOnlyList<Tensor>[groups];
        using (GradMode.NoGrad())
            for (int k = 0; k < groups; k++) plain[k] = _experts[Groups[k]].ForwardFeatures(input);
        var result = new IReadOnlyList<Tensor>?[groups];
        for (int t = 0; t < groups; t++)
        {
            if (gradGroup is not null && gradGroup != t) continue;
            var expert = _experts[Groups[t]];
            var x = Stem(expert, input);
            var fused = new Tensor[levels];
            for (int i = 0; i < levels; i++)
            {
                var f = expert.Stages[i].Forward(x);
                for (int k = 0; k < groups; k++)
                {
                    if (k == t) continue;
                    for (int j = i; j < levels; j++)
                    {
                        var contribution = _gammas![ReconciliationLayer.Key(Groups[k], Groups[t], j, i)].Forward(plain[k][j].Detach());
                        ReconciliationLayer.CheckSameShape(f, contribution, $"{Groups[k]}→{Groups[t]}");
                        f = f + contribution;
                    }
                }
                fused[i] = f;
                x = f;
            }
            result[t] = fused;
        }
        return result;
    }

    private static Tensor Stem(ResNet expert, Tensor input) =>
        Functional.MaxPool2d(expert.Bn1.Forward(expert.Conv1.Forward(input)).Relu(), 3, 2, 1);

    private static IDisposable? WithGrad(int? gradGroup, int group) => gradGroup is null || gradGroup == group ? null : GradMode.NoGrad();
}

/// <summary>
/// The whole expanded backbone as one representation (the final model of X-Learner_r and
/// X-Learner_p, and the teacher before the squeeze): at each level the channel concatenation of
/// every group's F_i^t, so downstream heads see all of it.
/// </summary>
public sealed class ExpandedRepresentation(ExpandedBackbone expanded) : IMultiScaleBackbone
{
    public ExpandedBackbone Expanded { get; } = expanded ?? throw new ArgumentNullException(nameof(expanded));

    public Module Module => Expanded;

    public IReadOnlyList<int> FeatureChannels => Expanded.FeatureChannels.Select(c => c * Expanded.Groups.Count).ToArray();

    public IReadOnlyList<int> FeatureStrides => Expanded.FeatureStrides;

    public Features Forward(string task, Tensor input)
    {
        var all = Expanded.ForwardGroups(input, null);
        int levels = Expanded.FeatureChannels.Count;
        return new Features(Enumerable.Range(0, levels).Select(i => Functional.Cat(all.Select(g => g![i]).ToArray(), 1)).ToArray());
    }
}
