using System.Text;

namespace Tessera.Models.Data.World;

/// <summary>
/// The template grammar for captions: "a [size] [texture] colour shape [relation a colour shape] [in a scene]",
/// relations from the objects' positions and depths ("left of", "above", "in front of"...).
/// </summary>
public static class Captions
{
    public static string Describe(SceneLayout layout, IReadOnlyList<SceneObject> visible, SceneRandom random)
    {
        var main = layout.Objects[0];
        var text = new StringBuilder("a ");
        AppendObject(text, main, layout.Size, withSize: true);
        var others = visible.Where(o => !ReferenceEquals(o, main)).ToList();
        if (others.Count > 0 && random.Chance(0.7f))
        {
            var other = random.Pick(others);
            text.Append(' ').Append(Relation(main, other)).Append(" a ");
            AppendObject(text, other, layout.Size, withSize: false);
        }
        if (random.Chance(0.6f))
            text.Append(" in a ").Append(layout.SceneType.Name);
        return text.ToString();
    }

    private static void AppendObject(StringBuilder text, SceneObject obj, int size, bool withSize)
    {
        if (withSize)
        {
            float scale = obj.Radius / size;
            text.Append(scale < 0.09f ? "small " : scale > 0.22f ? "large " : "");
        }
        if (obj.Texture != TextureKind.Solid) text.Append(Textures.Names[(int)obj.Texture]).Append(' ');
        text.Append(Palettes.Names[obj.ColourIndex]).Append(' ').Append(ShapeSdf.Name(obj.Shape));
    }

    private static string Relation(SceneObject a, SceneObject b)
    {
        float dx = b.CenterX - a.CenterX, dy = b.CenterY - a.CenterY;
        float distance = MathF.Sqrt(dx * dx + dy * dy);
        if (distance < (a.Radius + b.Radius) * 0.6f)
            return a.Depth < b.Depth ? "in front of" : "behind";
        if (MathF.Abs(dx) >= MathF.Abs(dy))
            return dx > 0 ? "left of" : "right of";
        return dy > 0 ? "above" : "below";
    }
}

/// <summary>The fixed word vocabulary of the caption grammar; token ids are stable across versions of the world.</summary>
public static class CaptionVocabulary
{
    public const int Pad = 0, Begin = 1, End = 2, Unknown = 3;

    private static readonly string[] s_words = BuildWords();
    private static readonly Dictionary<string, int> s_ids = s_words.Select((w, i) => (w, i)).ToDictionary(p => p.w, p => p.i);

    public static IReadOnlyList<string> Words => s_words;

    public static int Count => s_words.Length;

    /// <summary>
    /// Token slots that hold every caption the grammar makes with its Begin and End tokens (the
    /// longest is 17: "a small striped red star left of a blue ring in a ..." plus both markers),
    /// with room to spare: the default caption length of batches and of text towers.
    /// </summary>
    public const int MaxLength = 20;

    private static string[] BuildWords()
    {
        var words = new List<string> { "<pad>", "<bos>", "<eos>", "<unk>", "a", "small", "large", "in", "front", "of", "behind", "left", "right", "above", "below" };
        words.AddRange(Textures.Names.Skip(1));
        words.AddRange(Palettes.Names);
        words.AddRange(ShapeSdf.Names);
        words.AddRange(SceneTypes.All.Select(t => t.Name));
        return words.Distinct().ToArray();
    }

    /// <summary>[length] ids: begin, words, end, then padding (truncated to the length).</summary>
    public static void Encode(string caption, Span<long> destination)
    {
        destination.Clear();
        int n = 0;
        if (n < destination.Length) destination[n++] = Begin;
        foreach (var word in caption.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (n >= destination.Length) return;
            destination[n++] = s_ids.TryGetValue(word, out int id) ? id : Unknown;
        }
        if (n < destination.Length) destination[n] = End;
    }

    public static string Decode(ReadOnlySpan<long> ids)
    {
        var words = new List<string>();
        foreach (long id in ids)
        {
            if (id == End) break;
            if (id is Pad or Begin) continue;
            words.Add(id >= 0 && id < s_words.Length ? s_words[id] : "<unk>");
        }
        return string.Join(' ', words);
    }
}
