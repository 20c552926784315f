namespace Tessera.Models.Training;

/// <summary>A source whose label indices have names (class folders, world classes), for captions in reports and previews.</summary>
public interface ILabelledSource
{
    /// <summary>The name of each label index.</summary>
    IReadOnlyList<string> ClassNames { get; }
}
