namespace Tessera.Models.Data.World;

/// <summary>What a source is labelled for.</summary>
public enum WorldTask
{
    Classification,
    MultiLabel,
    Detection,
    Segmentation,
    Depth,
    Captioning,
}

/// <summary>Which attribute a classification label reads.</summary>
public enum ClassLabelKind
{
    /// <summary>The main object's shape (index into the domain's shapes, or all shapes).</summary>
    Shape,
    /// <summary>The scene type (index into the domain's scene types).</summary>
    SceneType,
    /// <summary>Shape x texture x colour of the main object over the domain's subsets.</summary>
    Fine,
    Texture,
    Colour,
}

/// <summary>Which classes a segmentation map uses.</summary>
public enum SegmentationLabels
{
    /// <summary>Shape classes then stuff classes (21).</summary>
    ObjectsAndStuff,
    /// <summary>Stuff classes, with every object pixel as one extra "thing" class (10).</summary>
    StuffOnly,
}

/// <summary>
/// A named preset: a scene distribution (<see cref="WorldDomain"/>) and the task it is labelled for.
/// Every scene still carries all annotations; the task says which ones the source's label space names.
/// </summary>
public sealed record WorldSource(string Name, string Like, WorldTask Task, WorldDomain Domain, string Description)
{
    public ClassLabelKind ClassLabel { get; init; } = ClassLabelKind.Shape;
    public SegmentationLabels Segmentation { get; init; } = SegmentationLabels.ObjectsAndStuff;
    /// <summary>Images per split, for suites with fixed-size splits (0 = unbounded stream).</summary>
    public IReadOnlyDictionary<string, int> SplitSizes { get; init; } = new Dictionary<string, int>();

    /// <summary>Names of the classes of the source's task (empty for depth regression; the vocabulary for captions).</summary>
    public IReadOnlyList<string> LabelNames => Task switch
    {
        WorldTask.Classification => ClassNames(),
        WorldTask.MultiLabel or WorldTask.Detection => ShapeSdf.Names, // class = (int)shape, whatever the domain draws
        WorldTask.Segmentation => SegmentationNames(Segmentation),
        WorldTask.Captioning => CaptionVocabulary.Words,
        _ => [],
    };

    /// <summary>Classification classes (whatever the task): the class index of a scene is <see cref="ClassOf"/>.</summary>
    public IReadOnlyList<string> ClassNames() => ClassLabel switch
    {
        ClassLabelKind.Shape => ShapeList().Select(ShapeSdf.Name).ToArray(),
        ClassLabelKind.SceneType => Domain.SceneTypes.Select(i => SceneTypes.All[i].Name).ToArray(),
        ClassLabelKind.Texture => TextureList().Select(t => Textures.Names[(int)t]).ToArray(),
        ClassLabelKind.Colour => ColourList().Select(c => Palettes.Names[c]).ToArray(),
        _ => (from s in ShapeList() from t in TextureList() from c in ColourList()
              select $"{Palettes.Names[c]} {Textures.Names[(int)t]} {ShapeSdf.Name(s)}").ToArray(),
    };

    public int ClassOf(SceneLayout layout)
    {
        var main = layout.Objects[0];
        int Position<T>(IReadOnlyList<T> list, T value)
        {
            for (int i = 0; i < list.Count; i++)
                if (EqualityComparer<T>.Default.Equals(list[i], value)) return i;
            throw new InvalidOperationException($"source {Name}: {value} is outside its label space");
        }
        return ClassLabel switch
        {
            ClassLabelKind.Shape => Position(ShapeList(), main.Shape),
            ClassLabelKind.SceneType => Position(Domain.SceneTypes, layout.SceneTypeIndex),
            ClassLabelKind.Texture => Position(TextureList(), main.Texture),
            ClassLabelKind.Colour => Position(ColourList(), main.ColourIndex),
            _ => (Position(ShapeList(), main.Shape) * TextureList().Count + Position(TextureList(), main.Texture)) * ColourList().Count
                 + Position(ColourList(), main.ColourIndex),
        };
    }

    /// <summary>Segmentation class of a semantic-map value (see <see cref="SceneBuffers.Semantic"/>) under this source's labels.</summary>
    /// <remarks>255 (padding from augmentations) stays 255, the ignore index of the losses.</remarks>
    public int SegmentationClass(byte semantic) => semantic == IgnoreIndex ? IgnoreIndex
        : Segmentation == SegmentationLabels.ObjectsAndStuff ? semantic
        : semantic >= ShapeSdf.Count ? semantic - ShapeSdf.Count : StuffClasses.Count;

    /// <summary>Semantic label of pixels with no target (padding); pass it as the loss's ignore index.</summary>
    public const int IgnoreIndex = 255;

    public int SegmentationClassCount => Segmentation == SegmentationLabels.ObjectsAndStuff ? ShapeSdf.Count + StuffClasses.Count : StuffClasses.Count + 1;

    public static IReadOnlyList<string> SegmentationNames(SegmentationLabels labels) => labels == SegmentationLabels.ObjectsAndStuff
        ? ShapeSdf.Names.Concat(StuffClasses.Names).ToArray()
        : StuffClasses.Names.Append("thing").ToArray();

    private IReadOnlyList<ShapeKind> ShapeList() => Domain.Shapes ?? Enum.GetValues<ShapeKind>();

    private IReadOnlyList<TextureKind> TextureList() => Domain.Textures ?? Enum.GetValues<TextureKind>();

    private IReadOnlyList<int> ColourList() => Domain.Colours ?? Enumerable.Range(0, Palettes.ColourCount).ToArray();
}
