namespace Tessera.Models.Training;

/// <summary>
/// A source with a one-time preparation pass (reading and decoding a user's files) that a caller
/// may run up front with a progress report; otherwise it runs at the first <see cref="ITaskSource.Sample"/>.
/// </summary>
public interface IPreparedSource
{
    /// <summary>Prepares for inputs of <paramref name="inputSize"/> pixels; <paramref name="progress"/> gets (done, total) items. Idempotent.</summary>
    void Prepare(int inputSize, Action<int, int>? progress = null);

    /// <summary>One line on what the preparation found (counts, skipped files, cache), or null before it ran.</summary>
    string? PreparationSummary { get; }

    /// <summary>Warnings of the preparation (files skipped, with reasons); empty when none.</summary>
    IReadOnlyList<string> PreparationWarnings { get; }
}
