namespace Tessera.Models.Data.World;

/// <summary>
/// The per-pixel outputs of rendering one scene, reusable across scenes of the same size so that
/// streaming generation allocates nothing per pixel.
/// </summary>
public sealed class SceneBuffers
{
    public SceneBuffers(int size)
    {
        Size = size;
        int pixels = size * size;
        Image = new float[3 * pixels];
        Instance = new byte[pixels];
        Semantic = new byte[pixels];
        Depth = new float[pixels];
        Scratch = new float[pixels];
    }

    public int Size { get; }

    /// <summary>[3, size, size] planar RGB in [0, 1].</summary>
    public float[] Image { get; }

    /// <summary>[size, size]: 0 for background, k + 1 for visible object k (annotation order).</summary>
    public byte[] Instance { get; }

    /// <summary>[size, size]: object pixels hold the shape class (0..11), background pixels <see cref="ShapeSdf.Count"/> + stuff class.</summary>
    public byte[] Semantic { get; }

    /// <summary>[size, size]: distance from the camera (background up to 10, objects 1..8).</summary>
    public float[] Depth { get; }

    /// <summary>Row scratch for the blur.</summary>
    internal float[] Scratch { get; }
}
