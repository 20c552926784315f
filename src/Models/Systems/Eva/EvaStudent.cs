using System.Text.Json;
using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Engine.Serialization;
using Tessera.Models.Nn;
using Tessera.Models.Nn.Backbones;
using Tessera.Models.Objectives;

namespace Tessera.Models.Systems.Eva;

/// <summary>The shape of an <see cref="EvaStudent"/> (stored in its checkpoint's metadata).</summary>
public sealed record StudentConfig(int ImageSize, int PatchSize, int Width, int Depth, int Heads, int TargetWidth)
{
    public int Grid => ImageSize / PatchSize;
}

/// <summary>
/// The EVA student: a plain ViT "backbone" (no cls token, learned absolute positions, pre-norm
/// blocks), a learnable "mask_token" [1, 1, D] that replaces the embeddings of masked patches
/// before the position embeddings (BEiT), and a regression "head" (Linear D → teacher width) on
/// the backbone's final LayerNorm'd patch tokens — the paper's "normalised, then projected to the
/// CLIP feature dimension" (the backbone's final LayerNorm is that normalisation; our choice, so
/// a fine-tuned backbone keeps the norm it was pre-trained with). The same module without masks is
/// the feature-distillation baseline (FD: regress every patch of the unmasked image).
/// </summary>
public sealed class EvaStudent : Module
{
    public EvaStudent(int imageSize, int patchSize, int width, int depth, int heads, int targetWidth, float dropPath, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        Backbone = RegisterModule("backbone", new VisionTransformer(imageSize, patchSize, 3, width, depth, heads, numClasses: 0, pooling: VitPooling.Mean,
            dropPathRate: dropPath, generator: generator));
        MaskToken = RegisterParameter("mask_token", InitRules.TruncatedNormal([1, 1, width], 0.02f, generator));
        Head = RegisterModule("head", new Linear(width, targetWidth, generator: generator));
        Config = new StudentConfig(imageSize, patchSize, width, depth, heads, targetWidth);
    }

    public EvaStudent(StudentConfig config, float dropPath, Generator generator)
        : this(config.ImageSize, config.PatchSize, config.Width, config.Depth, config.Heads, config.TargetWidth, dropPath, generator)
    {
    }

    /// <summary>A student of <paramref name="settings"/>' shape, regressing <paramref name="teacher"/>'s patch features.</summary>
    public static EvaStudent For(EvaSettings settings, ClipConfig teacher, Generator generator) =>
        new(teacher.ImageSize, teacher.PatchSize, settings.StudentWidth, settings.StudentDepth, settings.StudentHeads, teacher.ImageWidth, settings.PretrainDropPath, generator);

    public VisionTransformer Backbone { get; }
    public Tensor MaskToken { get; }
    public Linear Head { get; }
    public StudentConfig Config { get; }
    public int TargetWidth => Config.TargetWidth;

    /// <summary>Predicted teacher features [B, N, TargetWidth] of every patch; <paramref name="mask"/> [B, N] (1 = masked) or null for FD.</summary>
    public Tensor Predict(Tensor images, Tensor? mask)
    {
        var tokens = mask is null ? Backbone.ForwardTokens(images) : Backbone.ForwardTokens(images, mask, MaskToken);
        return Head.Forward(tokens);
    }

    /// <summary>
    /// Negative cosine between predictions and teacher features, averaged over the masked patches
    /// (MIM) or over every patch when <paramref name="mask"/> is null (FD).
    /// </summary>
    public Tensor Loss(Tensor images, Tensor teacherFeatures, Tensor? mask) => FeatureLosses.NegativeCosine(Predict(images, mask), teacherFeatures, mask);

    /// <summary>
    /// Throws unless the teacher's patch features fit this student: same patch grid, feature width =
    /// the head's output width. Names the recipe field, the expected and the found values.
    /// </summary>
    public static void CheckTeacher(ClipConfig teacher, int studentImageSize, int studentPatchSize, int targetWidth, string field)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        if (teacher.ImageWidth != targetWidth)
            throw new ArgumentException($"eva: '{field}' teacher feature width expected {targetWidth} (the student head's output width), found {teacher.ImageWidth} in the checkpoint", field);
        int grid = studentImageSize / studentPatchSize;
        if (teacher.Grid != grid || teacher.PatchSize != studentPatchSize)
            throw new ArgumentException($"eva: '{field}' teacher patch grid expected {grid}×{grid} of {studentPatchSize}-pixel patches (the student's, at {studentImageSize} px), found {teacher.Grid}×{teacher.Grid} of {teacher.PatchSize}-pixel patches at {teacher.ImageSize} px", field);
    }

    /// <summary>Metadata key holding the <see cref="StudentConfig"/> in a student checkpoint.</summary>
    public const string ConfigKey = "eva_student_config";

    /// <summary><see cref="Module.Save"/> stores the config as JSON metadata, so <see cref="Load(string, string)"/> can rebuild the student.</summary>
    protected override IReadOnlyDictionary<string, string> SaveMetadata() => new Dictionary<string, string> { [ConfigKey] = JsonSerializer.Serialize(Config) };

    /// <summary>The config of a student checkpoint; a clear error naming <paramref name="field"/> when it is missing or not one.</summary>
    public static StudentConfig ReadConfig(string? path, string field)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ArgumentException($"eva: '{field}' expected the path of an EVA student checkpoint (written by `tessera train eva` as OUT/student.safetensors), found none", field);
        if (!File.Exists(path))
            throw new FileNotFoundException($"eva: '{field}' expected an existing EVA student checkpoint (written by `tessera train eva` as OUT/student.safetensors), found no file at '{path}'", path);
        var (_, metadata) = SafeTensors.Read(path);
        if (!metadata.TryGetValue(ConfigKey, out var json))
            throw new ArgumentException($"eva: '{field}' expected an EVA student checkpoint with '{ConfigKey}' metadata, found a safetensors file without it at '{path}'", field);
        return JsonSerializer.Deserialize<StudentConfig>(json) ?? throw new ArgumentException($"eva: '{field}': unreadable '{ConfigKey}' metadata in '{path}'", field);
    }

    /// <summary>Rebuilds a student from its checkpoint (strict keys and shapes).</summary>
    public static EvaStudent Load(string path, string field = "eva.student")
    {
        var config = ReadConfig(path, field);
        var student = new EvaStudent(config, 0f, new Generator(0));
        var (tensors, _) = SafeTensors.Read(path);
        student.LoadStateDict(tensors.ToDictionary(kv => kv.Key, kv => Tensor.FromEntry(kv.Value), StringComparer.Ordinal));
        return student;
    }
}
