using Tessera.Autograd;
using Tessera.Engine.Random;

namespace Tessera.Models.Demo;

/// <summary>
/// A tiny procedural image classification set for the quick-start demo: 1×16×16 images of one
/// of four strokes (horizontal bar, vertical bar, diagonal, hollow square) at a random place,
/// over uniform noise. Deterministic for a seed; batch i is the same on every machine.
/// </summary>
public sealed class ShapesDataset
{
    public const int ImageSize = 16;
    public const int ClassCount = 4;
    public static readonly string[] ClassNames = ["horizontal", "vertical", "diagonal", "square"];

    private readonly ulong _seed;

    public ShapesDataset(ulong seed) => _seed = seed;

    /// <summary>Batch <paramref name="index"/>: images [batch, 1, 16, 16] and int64 labels [batch].</summary>
    public (Tensor Images, Tensor Labels) Batch(int index, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var generator = new Generator(_seed * 1_000_003UL + (ulong)index);
        var pixels = new float[batchSize * ImageSize * ImageSize];
        generator.Uniform(pixels, 0f, 0.35f);
        var labels = new long[batchSize];
        for (int b = 0; b < batchSize; b++)
        {
            int label = generator.NextInt(ClassCount);
            labels[b] = label;
            int length = 6 + generator.NextInt(6);
            int row = generator.NextInt(ImageSize - length), col = generator.NextInt(ImageSize - length);
            var image = pixels.AsSpan(b * ImageSize * ImageSize, ImageSize * ImageSize);
            for (int t = 0; t < length; t++)
            {
                switch (label)
                {
                    case 0: image[(row + length / 2) * ImageSize + col + t] = 1f; break;
                    case 1: image[(row + t) * ImageSize + col + length / 2] = 1f; break;
                    case 2: image[(row + t) * ImageSize + col + t] = 1f; break;
                    default:
                        image[row * ImageSize + col + t] = 1f;
                        image[(row + length - 1) * ImageSize + col + t] = 1f;
                        image[(row + t) * ImageSize + col] = 1f;
                        image[(row + t) * ImageSize + col + length - 1] = 1f;
                        break;
                }
            }
        }
        return (Tensor.FromArray(pixels, batchSize, 1, ImageSize, ImageSize), Tensor.FromArray(labels, batchSize));
    }
}
