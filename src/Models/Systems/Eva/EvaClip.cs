using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Systems.Eva;

/// <summary>
/// EVA-CLIP: a CLIP whose image tower is the EVA student's backbone (same width, depth and heads),
/// versus the same CLIP with a freshly initialised image tower. Both arms start from the frozen
/// teacher's text tower, text projection and logit scale, and from the same fresh image projection
/// (one generator seed), so the image tower's initialisation is the only difference — our choice:
/// the paper initialises EVA-CLIP's text tower from OpenAI CLIP-L and compares with OpenCLIP models
/// trained from scratch; at our scale a shared text start isolates the effect of EVA's image init.
/// </summary>
public static class EvaClip
{
    /// <summary>The CLIP config of EVA-CLIP: the teacher's text side and embedding, the student's image tower.</summary>
    public static ClipConfig Config(ClipConfig teacher, EvaSettings settings) =>
        teacher with { ImageWidth = settings.StudentWidth, ImageDepth = settings.StudentDepth, ImageHeads = settings.StudentHeads };

    /// <summary>EVA-CLIP: image tower copied from <paramref name="student"/>'s backbone (bit-identical), text side from the teacher.</summary>
    public static ClipModel FromStudent(EvaStudent student, ClipModel teacher, EvaSettings settings, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(student);
        var clip = FromScratch(teacher, settings, generator);
        var image = student.Backbone.StateDict().ToDictionary(kv => "image." + kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var (_, unexpected) = clip.LoadStateDict(image, strict: false);
        var expected = clip.Image.StateDict().Keys.Select(k => "image." + k).ToHashSet(StringComparer.Ordinal);
        if (unexpected.Count > 0 || !expected.SetEquals(image.Keys))
            throw new InvalidOperationException($"eva-clip: the student's backbone does not fit the CLIP image tower (unexpected [{string.Join(", ", unexpected)}])");
        return clip;
    }

    /// <summary>The from-scratch arm: a fresh image tower and projection, the teacher's text side.</summary>
    public static ClipModel FromScratch(ClipModel teacher, EvaSettings settings, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        var clip = new ClipModel(Config(teacher.Config, settings), generator);
        var text = teacher.StateDict().Where(kv => !kv.Key.StartsWith("image", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        clip.LoadStateDict(text, strict: false);
        return clip;
    }
}
