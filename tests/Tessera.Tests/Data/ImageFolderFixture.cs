using Tessera.Models.Data.Images;

namespace Tessera.Tests.Data;

/// <summary>
/// Writes a tiny JPEG folder in ImageFolder layout, encoded with SkiaSharp: class k's images are a
/// noisy disc of colour k on a grey background at a random place and size, of varied sizes and
/// aspect ratios, so a few training steps can tell the classes apart.
/// </summary>
internal static class ImageFolderFixture
{
    public static readonly string[] ClassNames = ["cherry", "lime", "plum"];
    private static readonly (byte R, byte G, byte B)[] Colours = [(220, 30, 40), (60, 200, 50), (90, 40, 180)];

    /// <param name="splitFolders">Write train/ and val/ folders (val gets a third as many images) instead of class folders at the root.</param>
    public static string Create(string root, int perClass, bool splitFolders = false, int seed = 0)
    {
        var random = new Random(seed);
        for (int c = 0; c < ClassNames.Length; c++)
        {
            int validation = splitFolders ? Math.Max(1, perClass / 3) : 0;
            for (int i = 0; i < perClass + validation; i++)
            {
                string folder = !splitFolders ? Path.Combine(root, ClassNames[c])
                    : Path.Combine(root, i < perClass ? "train" : "val", ClassNames[c]);
                Directory.CreateDirectory(folder);
                int width = random.Next(20, 48), height = random.Next(20, 48);
                File.WriteAllBytes(Path.Combine(folder, $"img{i:D3}.jpg"), ImageCodec.EncodeJpeg(Disc(width, height, Colours[c], random), width, height, 85));
            }
        }
        return root;
    }

    private static byte[] Disc(int width, int height, (byte R, byte G, byte B) colour, Random random)
    {
        var rgb = new byte[width * height * 3];
        float cx = random.Next(width / 3, 2 * width / 3 + 1), cy = random.Next(height / 3, 2 * height / 3 + 1);
        float radius = Math.Min(width, height) * (0.25f + 0.15f * (float)random.NextDouble());
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                bool inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= radius * radius;
                int noise = random.Next(-20, 21), i = 3 * (y * width + x);
                rgb[i] = (byte)Math.Clamp((inside ? colour.R : 128) + noise, 0, 255);
                rgb[i + 1] = (byte)Math.Clamp((inside ? colour.G : 128) + noise, 0, 255);
                rgb[i + 2] = (byte)Math.Clamp((inside ? colour.B : 128) + noise, 0, 255);
            }
        return rgb;
    }
}
