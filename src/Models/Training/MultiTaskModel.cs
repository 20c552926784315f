using Tessera.Autograd;
using Tessera.Models.Nn;

namespace Tessera.Models.Training;

/// <summary>
/// A shared backbone plus one head per task, as one module: state-dict keys are
/// "backbone.*" and "heads.{task}.*", so a checkpoint holds the whole model under stable names.
/// Single-task training is the case of one task.
/// </summary>
public sealed class MultiTaskModel : Module
{
    private readonly Dictionary<string, TrainingTask> _tasks = new(StringComparer.Ordinal);

    public MultiTaskModel(IMultiTaskBackbone backbone, IReadOnlyList<TrainingTask> tasks)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(tasks);
        if (tasks.Count == 0)
            throw new ArgumentException("MultiTaskModel: expected at least one task, found none", nameof(tasks));
        Backbone = backbone;
        RegisterModule("backbone", backbone.Module);
        var heads = RegisterModule("heads", new HeadSet());
        foreach (var task in tasks)
        {
            if (!_tasks.TryAdd(task.Name, task))
                throw new ArgumentException($"MultiTaskModel: task '{task.Name}' appears twice; task names must be unique", nameof(tasks));
            heads.Add(task.Name, task.Head.Module);
        }
        Tasks = tasks;
    }

    public IMultiTaskBackbone Backbone { get; }

    public IReadOnlyList<TrainingTask> Tasks { get; }

    public TrainingTask Task(string name) => _tasks.TryGetValue(name, out var task)
        ? task
        : throw new ArgumentException($"MultiTaskModel: no task '{name}'; tasks are {string.Join(", ", _tasks.Keys)}", nameof(name));

    /// <summary>Backbone features of the task's input, then the task's head and loss.</summary>
    public TaskOutput Forward(string task, TaskBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var features = Backbone.Forward(task, batch.Inputs);
        return Task(task).Head.Forward(features, batch);
    }

    /// <summary>The heads' container (a ModuleDict keyed by task).</summary>
    private sealed class HeadSet : Module
    {
        public void Add(string name, Module head) => RegisterModule(name, head);
    }
}
