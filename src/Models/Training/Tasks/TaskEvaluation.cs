using Tessera.Models.Nn;

namespace Tessera.Models.Training;

/// <summary>
/// A head whose test metrics are not means of per-batch values (detection mAP ranks every
/// detection of the split together; mIoU sums one confusion matrix): the trainer's evaluation
/// hands it every test batch's features and asks for the metrics once at the end.
/// </summary>
public interface IEvaluatedHead : ITaskHead
{
    /// <summary>A fresh accumulator for one pass over the test split.</summary>
    ITaskEvaluation CreateEvaluation();
}

/// <summary>Accumulates a head's predictions over a test split (the model is in eval mode, gradients off).</summary>
public interface ITaskEvaluation
{
    /// <summary>Adds one test batch, given the backbone's features of its inputs.</summary>
    void Add(Features features, TaskBatch batch);

    /// <summary>The metrics over everything added ("mAP", "AP50", "mIoU", ...).</summary>
    IReadOnlyDictionary<string, double> Compute();
}

/// <summary>
/// A source whose test split has a fixed size (MNIST): evaluation stops at the split's end, and
/// the last batch may be short, so "eval_batches" large enough means "the whole split".
/// </summary>
public interface IFiniteTestSplit
{
    /// <summary>Images in the test split.</summary>
    long TestCount { get; }
}
