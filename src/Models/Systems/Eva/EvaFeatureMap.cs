using Tessera.Autograd;
using Tessera.Engine.Random;
using Tessera.Models.Data.Images;
using Tessera.Models.Data.World;
using Tessera.Models.Recipes;

namespace Tessera.Models.Systems.Eva;

/// <summary>
/// A PNG that shows what EVA learns, one row per held-out captions image: the input; the input with
/// the block-wise mask applied (masked patches grey); the teacher's patch features, coloured by
/// their first three principal components (computed over the teacher features of all rows); and
/// the nearest-teacher-feature map: each patch takes the colour of the teacher feature (of that
/// image) closest in cosine to the student's prediction, masked patches framed in white. Where the
/// student predicts well, the last two panels agree, masked patches included.
/// </summary>
public static class EvaFeatureMap
{
    private const int Scale = 4, Gap = 4, Rows = 3;

    public static void Write(string path, ClipModel teacher, EvaStudent student, EvaSettings settings)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(student);
        int size = teacher.Config.ImageSize, grid = teacher.Config.Grid, patch = teacher.Config.PatchSize, width = teacher.Config.ImageWidth;
        int patches = grid * grid;
        bool training = student.Training;
        student.Eval();
        float[] images, teacherFeatures, predictions, masks;
        using (GradMode.NoGrad())
        using (var scope = new TensorScope())
        {
            var batch = WorldBatch.Create(WorldSources.Get(EvaStages.PretrainSource), "test", Enumerable.Range(0, Rows).Select(i => (long)i).ToArray(), WorldTaskSource.WorldSeed, size);
            var mask = EvaStages.Masks(Rows, settings, new Generator(0));
            images = batch.Images.Contiguous().ToArray();
            teacherFeatures = teacher.PatchFeatures(batch.Images).Contiguous().ToArray();
            predictions = student.Predict(batch.Images, mask).Contiguous().ToArray();
            masks = mask.Contiguous().ToArray();
        }
        student.Train(training);

        var colours = PrincipalColours(teacherFeatures, Rows * patches, width);
        int panel = size * Scale, canvasWidth = 4 * panel + 5 * Gap, canvasHeight = Rows * panel + (Rows + 1) * Gap;
        var rgb = new byte[canvasWidth * canvasHeight * 3];
        Array.Fill(rgb, (byte)255);
        for (int row = 0; row < Rows; row++)
        {
            int top = Gap + row * (panel + Gap);
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    int cell = (y / patch) * grid + x / patch;
                    bool masked = masks[row * patches + cell] > 0.5f;
                    var pixel = new byte[3];
                    for (int c = 0; c < 3; c++)
                        pixel[c] = (byte)Math.Clamp((int)MathF.Round((images[((row * 3 + c) * size + y) * size + x] * 0.25f + 0.5f) * 255f), 0, 255);
                    Fill(rgb, canvasWidth, Gap, top, x, y, pixel);
                    Fill(rgb, canvasWidth, 2 * Gap + panel, top, x, y, masked ? [128, 128, 128] : pixel);
                    Fill(rgb, canvasWidth, 3 * Gap + 2 * panel, top, x, y, colours[row * patches + cell]);
                    int nearest = Nearest(predictions, teacherFeatures, row, cell, patches, width);
                    Fill(rgb, canvasWidth, 4 * Gap + 3 * panel, top, x, y, colours[row * patches + nearest]);
                }
            // A one-pixel white frame around each masked patch of the last panel.
            int side = patch * Scale, left = 4 * Gap + 3 * panel;
            for (int cell = 0; cell < patches; cell++)
            {
                if (masks[row * patches + cell] < 0.5f) continue;
                int cellTop = top + (cell / grid) * side, cellLeft = left + (cell % grid) * side;
                for (int i = 0; i < side; i++)
                {
                    Pixel(rgb, canvasWidth, cellLeft + i, cellTop);
                    Pixel(rgb, canvasWidth, cellLeft + i, cellTop + side - 1);
                    Pixel(rgb, canvasWidth, cellLeft, cellTop + i);
                    Pixel(rgb, canvasWidth, cellLeft + side - 1, cellTop + i);
                }
            }
        }
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        ImageCodec.WritePng(path, rgb, canvasWidth, canvasHeight);
    }

    /// <summary>Paints source pixel (x, y) as a Scale×Scale square of a panel whose top-left corner is (left, top).</summary>
    private static void Fill(byte[] rgb, int canvasWidth, int left, int top, int x, int y, byte[] colour)
    {
        for (int dy = 0; dy < Scale; dy++)
            for (int dx = 0; dx < Scale; dx++)
            {
                int offset = ((top + y * Scale + dy) * canvasWidth + left + x * Scale + dx) * 3;
                rgb[offset] = colour[0];
                rgb[offset + 1] = colour[1];
                rgb[offset + 2] = colour[2];
            }
    }

    private static void Pixel(byte[] rgb, int canvasWidth, int x, int y)
    {
        int offset = (y * canvasWidth + x) * 3;
        rgb[offset] = rgb[offset + 1] = rgb[offset + 2] = 255;
    }

    /// <summary>The patch of image <paramref name="row"/> whose teacher feature is closest in cosine to the prediction at <paramref name="cell"/>.</summary>
    private static int Nearest(float[] predictions, float[] teacher, int row, int cell, int patches, int width)
    {
        int best = 0;
        double bestCosine = double.NegativeInfinity;
        var p = predictions.AsSpan((row * patches + cell) * width, width);
        for (int j = 0; j < patches; j++)
        {
            var t = teacher.AsSpan((row * patches + j) * width, width);
            double dot = 0, pp = 0, tt = 0;
            for (int d = 0; d < width; d++)
            {
                dot += p[d] * t[d];
                pp += p[d] * p[d];
                tt += t[d] * t[d];
            }
            double cosine = dot / Math.Sqrt(pp * tt + 1e-12);
            if (cosine > bestCosine) (best, bestCosine) = (j, cosine);
        }
        return best;
    }

    /// <summary>Each row's projection on the top three principal components (power iteration with deflation), scaled to 0..255 per component.</summary>
    private static byte[][] PrincipalColours(float[] features, int rows, int width)
    {
        var mean = new double[width];
        for (int r = 0; r < rows; r++)
            for (int d = 0; d < width; d++) mean[d] += features[r * width + d] / rows;
        var covariance = new double[width, width];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < width; i++)
                for (int j = 0; j < width; j++)
                    covariance[i, j] += (features[r * width + i] - mean[i]) * (features[r * width + j] - mean[j]);
        var projections = new double[3][];
        for (int component = 0; component < 3; component++)
        {
            var vector = Enumerable.Range(0, width).Select(i => 1.0 + 0.01 * i).ToArray();
            double eigenvalue = 0;
            for (int iteration = 0; iteration < 200; iteration++)
            {
                var next = new double[width];
                for (int i = 0; i < width; i++)
                    for (int j = 0; j < width; j++) next[i] += covariance[i, j] * vector[j];
                eigenvalue = Math.Sqrt(next.Sum(v => v * v));
                if (eigenvalue < 1e-12) break;
                vector = next.Select(v => v / eigenvalue).ToArray();
            }
            for (int i = 0; i < width; i++)
                for (int j = 0; j < width; j++) covariance[i, j] -= eigenvalue * vector[i] * vector[j];
            projections[component] = Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, width).Sum(d => (features[r * width + d] - mean[d]) * vector[d])).ToArray();
        }
        var colours = new byte[rows][];
        for (int r = 0; r < rows; r++)
        {
            colours[r] = new byte[3];
            for (int c = 0; c < 3; c++)
            {
                double low = projections[c].Min(), high = projections[c].Max();
                colours[r][c] = (byte)Math.Clamp((int)Math.Round(255 * (projections[c][r] - low) / Math.Max(1e-12, high - low)), 0, 255);
            }
        }
        return colours;
    }
}
