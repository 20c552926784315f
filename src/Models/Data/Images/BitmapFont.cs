namespace Tessera.Models.Data.Images;

/// <summary>A 3x5 pixel font (letters drawn upper-case, digits, a little punctuation) for labels on preview images.</summary>
public static class BitmapFont
{
    public const int GlyphWidth = 3, GlyphHeight = 5, Advance = 4, LineHeight = 7;

    // Each glyph: five rows of three cells separated by '/', '#' = ink.
    private static readonly Dictionary<char, string> s_glyphs = new()
    {
        ['A'] = ".#./#.#/###/#.#/#.#", ['B'] = "##./#.#/##./#.#/##.", ['C'] = ".##/#../#../#../.##", ['D'] = "##./#.#/#.#/#.#/##.",
        ['E'] = "###/#../##./#../###", ['F'] = "###/#../##./#../#..", ['G'] = ".##/#../#.#/#.#/.##", ['H'] = "#.#/#.#/###/#.#/#.#",
        ['I'] = "###/.#./.#./.#./###", ['J'] = "..#/..#/..#/#.#/.#.", ['K'] = "#.#/#.#/##./#.#/#.#", ['L'] = "#../#../#../#../###",
        ['M'] = "#.#/###/###/#.#/#.#", ['N'] = "##./#.#/#.#/#.#/#.#", ['O'] = ".#./#.#/#.#/#.#/.#.", ['P'] = "##./#.#/##./#../#..",
        ['Q'] = ".#./#.#/#.#/##./.##", ['R'] = "##./#.#/##./#.#/#.#", ['S'] = ".##/#../.#./..#/##.", ['T'] = "###/.#./.#./.#./.#.",
        ['U'] = "#.#/#.#/#.#/#.#/###", ['V'] = "#.#/#.#/#.#/#.#/.#.", ['W'] = "#.#/#.#/###/###/#.#", ['X'] = "#.#/#.#/.#./#.#/#.#",
        ['Y'] = "#.#/#.#/.#./.#./.#.", ['Z'] = "###/..#/.#./#../###",
        ['0'] = "###/#.#/#.#/#.#/###", ['1'] = ".#./##./.#./.#./###", ['2'] = "##./..#/.#./#../###", ['3'] = "##./..#/.#./..#/##.",
        ['4'] = "#.#/#.#/###/..#/..#", ['5'] = "###/#../##./..#/##.", ['6'] = ".##/#../###/#.#/###", ['7'] = "###/..#/.#./.#./.#.",
        ['8'] = "###/#.#/###/#.#/###", ['9'] = "###/#.#/###/..#/##.",
        ['-'] = ".../.../###/.../...", ['.'] = ".../.../.../.../.#.", [','] = ".../.../.../.#./#..", [':'] = ".../.#./.../.#./...",
        ['%'] = "#../..#/.#./#../..#", ['/'] = "..#/..#/.#./#../#..", ['='] = ".../###/.../###/...", ['+'] = ".../.#./###/.#./...",
        ['('] = ".#./#../#../#../.#.", [')'] = ".#./..#/..#/..#/.#.", ['\''] = ".#./.#./.../.../...", ['_'] = ".../.../.../.../###",
        [' '] = ".../.../.../.../...",
    };

    /// <summary>The 15 cells of a glyph (row-major, '#' = ink), or null when the font lacks the character.</summary>
    public static string? Glyph(char c) =>
        s_glyphs.TryGetValue(char.ToUpperInvariant(c), out var glyph) ? glyph.Replace("/", "", StringComparison.Ordinal) : null;

    /// <summary>Every character the font draws.</summary>
    public static IEnumerable<char> Characters => s_glyphs.Keys;

    public static int MeasureWidth(string text, int scale = 1) => (text ?? "").Length * Advance * scale;
}
