using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Random;
using Tessera.Models.Nn;
using Tessera.Models.Recipes;
using Tessera.Models.Training;

namespace Tessera.Models.Systems.XLearner;

/// <summary>The guidance layer G^t(x) = BN(Conv1x1(x)) (Eq. 4): maps a student map to a teacher map's channels.</summary>
public sealed class GuidanceLayer : Layer
{
    public GuidanceLayer(int studentChannels, int teacherChannels, Generator generator)
    {
        Conv = RegisterModule("conv", ConvInit.KaimingConv(studentChannels, teacherChannels, 1, generator: generator));
        Bn = RegisterModule("bn", new BatchNorm2d(teacherChannels));
    }

    public Conv2d Conv { get; }

    public BatchNorm2d Bn { get; }

    public override Tensor Forward(Tensor input) => Bn.Forward(Conv.Forward(input));
}

/// <summary>
/// The guidance layers of a squeeze: one <see cref="GuidanceLayer"/> per (task group, hinted level),
/// state-dict names "{group}.{level}". Levels are 0-based indices of the backbone's maps.
/// </summary>
public sealed class GuidanceSet : Module
{
    private readonly ModuleDict<ModuleList<GuidanceLayer>> _layers;

    public GuidanceSet(IReadOnlyList<string> groups, IReadOnlyList<int> studentChannels, IReadOnlyList<int> teacherChannels, IReadOnlyList<int> levels, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(levels);
        if (levels.Count == 0 || levels.Any(l => (uint)l >= (uint)Math.Min(studentChannels.Count, teacherChannels.Count)))
            throw new ArgumentOutOfRangeException(nameof(levels), $"GuidanceSet: hint levels expected in 0..{Math.Min(studentChannels.Count, teacherChannels.Count) - 1}, found [{string.Join(", ", levels)}]");
        Groups = groups.ToArray();
        Levels = levels.ToArray();
        _layers = RegisterModule("layers", new ModuleDict<ModuleList<GuidanceLayer>>());
        foreach (var group in Groups)
            _layers.Add(group, new ModuleList<GuidanceLayer>(Levels.Select(l => new GuidanceLayer(studentChannels[l], teacherChannels[l], generator))));
    }

    public IReadOnlyList<string> Groups { get; }

    /// <summary>The hinted levels (indices into the backbone's maps).</summary>
    public IReadOnlyList<int> Levels { get; }

    /// <summary>G^t at hinted level number <paramref name="hint"/> (an index into <see cref="Levels"/>).</summary>
    public GuidanceLayer Layer(int group, int hint) => _layers[Groups[group]][hint];
}

/// <summary>
/// The squeeze loss (Eq. 3), FitNets with one hint per task group:
///   L = Σ_t Σ_{levels l} (1/B) Σ_b ‖F^t_{l,b} − G^t_l(F̂_l)_b‖²
/// a squared L2 norm per image (summed over channels and positions), averaged over the batch,
/// summed over groups and hinted levels. The paper hints one output map; hinting every level is
/// our default (the downstream detector reads every level), and the level list is configurable.
/// </summary>
public static class SqueezeLoss
{
    /// <param name="teacher">Per group, the teacher's maps (detached targets).</param>
    /// <param name="student">The student's maps (one student for every group).</param>
    /// <param name="guidance">G^t per group and hinted level.</param>
    public static Tensor Compute(IReadOnlyList<IReadOnlyList<Tensor>> teacher, IReadOnlyList<Tensor> student, GuidanceSet guidance)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        return Compute(teacher, Enumerable.Repeat(student, teacher.Count).ToArray(), guidance);
    }

    /// <summary>The same loss with one student map list per group (X-Learner_r distils each task's teacher into its own half-width sub-backbone).</summary>
    public static Tensor Compute(IReadOnlyList<IReadOnlyList<Tensor>> teacher, IReadOnlyList<IReadOnlyList<Tensor>> studentPerGroup, GuidanceSet guidance)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(studentPerGroup);
        ArgumentNullException.ThrowIfNull(guidance);
        if (teacher.Count != guidance.Groups.Count || studentPerGroup.Count != guidance.Groups.Count)
            throw new ArgumentException($"SqueezeLoss: expected one teacher and one student feature list per group ({guidance.Groups.Count}), found {teacher.Count} and {studentPerGroup.Count}", nameof(teacher));
        Tensor? total = null;
        for (int t = 0; t < teacher.Count; t++)
        {
            for (int h = 0; h < guidance.Levels.Count; h++)
            {
                int level = guidance.Levels[h];
                var target = teacher[t][level].Detach();
                var projected = guidance.Layer(t, h).Forward(studentPerGroup[t][level]);
                if (!Shapes.Equal(target.Shape, projected.Shape))
                    throw new TensorShapeException($"SqueezeLoss: group {guidance.Groups[t]} level {level}: teacher map {Shapes.Format(target.Shape)} and projected student map {Shapes.Format(projected.Shape)} differ; student and teacher need the same strides");
                var diff = projected - target;
                var term = (diff * diff).Sum() * (1f / target.Size(0));
                total = total is null ? term : total + term;
            }
        }
        return total!;
    }
}

/// <summary>
/// A squeezed student seen through its guidance layers: task t's features are G^t(F̂) at every
/// level, so the teacher's task heads measure the student upstream (what the squeeze kept).
/// Needs every level hinted.
/// </summary>
public sealed class GuidedStudent(IMultiScaleBackbone student, GuidanceSet guidance, Func<string, int> groupOf, IReadOnlyList<int> teacherChannels) : IMultiScaleBackbone
{
    private readonly StudentAndGuidance _module = new(student.Module, guidance);

    /// <summary>Student and guidance together ("student.*", "guidance.*"), so Eval() reaches both.</summary>
    public Module Module => _module;

    public IReadOnlyList<int> FeatureChannels => teacherChannels;

    public IReadOnlyList<int> FeatureStrides => student.FeatureStrides;

    public Features Forward(string task, Tensor input)
    {
        var maps = student.Forward(task, input).Maps;
        int group = groupOf(task);
        if (guidance.Levels.Count != maps.Count)
            throw new InvalidOperationException($"GuidedStudent: upstream evaluation needs every level hinted ({maps.Count}), found levels [{string.Join(", ", guidance.Levels)}]");
        return new Features(guidance.Levels.Select((level, h) => guidance.Layer(group, h).Forward(maps[level])).ToArray());
    }
}

/// <summary>A student backbone and its guidance layers as one module.</summary>
internal sealed class StudentAndGuidance : Module
{
    public StudentAndGuidance(Module student, GuidanceSet guidance)
    {
        RegisterModule("student", student);
        RegisterModule("guidance", guidance);
    }
}
