using Tessera.Models.Data.Images;
using Tessera.Models.Data.World;
using Xunit;

namespace Tessera.Tests.Data;

public class AugmentTests
{
    private static ImageSample Sample(int index) =>
        ImageSample.FromScene(WorldGenerator.Generate(WorldSources.Get("objects-det"), "train", index, 0));

    /// <summary>Every mask pixel's centre lies inside the box of its instance, and every box's instance still has mask pixels or was cut.</summary>
    private static void AssertBoxesFollowMasks(ImageSample s)
    {
        Assert.Equal(s.Boxes.Length, s.BoxIds.Length);
        Assert.Equal(s.Boxes.Length, s.BoxLabels.Length);
        for (int y = 0; y < s.Height; y++)
            for (int x = 0; x < s.Width; x++)
            {
                int id = s.Instance![y * s.Width + x];
                if (id == 0) continue;
                int k = Array.IndexOf(s.BoxIds, id);
                Assert.True(k >= 0, $"mask pixel ({x},{y}) of instance {id} has no box");
                var box = s.Boxes[k];
                float cx = x + 0.5f, cy = y + 0.5f;
                Assert.True(cx >= box.X1 - 1e-3f && cx <= box.X2 + 1e-3f && cy >= box.Y1 - 1e-3f && cy <= box.Y2 + 1e-3f,
                            $"pixel ({x},{y}) of instance {id} outside its box {box}");
            }
    }

    [Fact]
    public void FlipMovesEverythingTogetherAndTwiceIsIdentity()
    {
        var s = Sample(1);
        var flipped = Augment.HorizontalFlip(s);
        AssertBoxesFollowMasks(flipped);
        for (int y = 0; y < s.Height; y++)
            for (int x = 0; x < s.Width; x++)
            {
                Assert.Equal(s.Instance![y * s.Width + x], flipped.Instance![y * s.Width + s.Width - 1 - x]);
                Assert.Equal(s.Image[y * s.Width + x], flipped.Image[y * s.Width + s.Width - 1 - x], 5);
            }
        for (int k = 0; k < s.Boxes.Length; k++)
            Assert.Equal(new Box(s.Width - s.Boxes[k].X2, s.Boxes[k].Y1, s.Width - s.Boxes[k].X1, s.Boxes[k].Y2), flipped.Boxes[k]);
        var back = Augment.HorizontalFlip(flipped);
        Assert.Equal(s.Instance, back.Instance);
        Assert.Equal(s.Semantic, back.Semantic);
        Assert.Equal(s.Boxes, back.Boxes);
        for (int i = 0; i < s.Image.Length; i++) Assert.Equal(s.Image[i], back.Image[i], 5);
    }

    [Fact]
    public void RotationMovesEverythingTogetherAndFourQuarterTurnsAreIdentity()
    {
        var s = Sample(2);
        for (int i = 0; i < 6; i++)
            AssertBoxesFollowMasks(Augment.RandomRotation(s, new SceneRandom(SceneKey.Hash("rotate", "test", i, 0)), 45f));
        var quarter = Augment.Rotate(s, 90f);
        // A quarter turn counter-clockwise on screen: output (x, y) shows source (W - 1 - y, x).
        for (int y = 0; y < s.Height; y++)
            for (int x = 0; x < s.Width; x++)
                Assert.Equal(s.Instance![x * s.Width + s.Width - 1 - y], quarter.Instance![y * s.Width + x]);
        var back = Augment.Rotate(Augment.Rotate(Augment.Rotate(quarter, 90f), 90f), 90f);
        Assert.Equal(s.Instance, back.Instance);
        for (int i = 0; i < s.Image.Length; i++) Assert.True(Math.Abs(s.Image[i] - back.Image[i]) < 1e-4f, $"pixel {i}: {s.Image[i]} vs {back.Image[i]}");
        var none = Augment.Rotate(s, 0f);
        Assert.Equal(s.Semantic, none.Semantic);
        Assert.Equal(s.Boxes, none.Boxes);
    }

    [Fact]
    public void RandomResizedCropAndScaleJitterKeepBoxesOnTheirMasks()
    {
        for (int i = 0; i < 10; i++)
        {
            var s = Sample(i);
            var random = new SceneRandom(SceneKey.Hash("augment", "test", i, 0));
            var crop = Augment.RandomResizedCrop(s, random, 48);
            Assert.Equal((48, 48), (crop.Width, crop.Height));
            AssertBoxesFollowMasks(crop);
            var jittered = Augment.ScaleJitter(s, random, 0.5f, 1.6f);
            Assert.Equal((s.Width, s.Height), (jittered.Width, jittered.Height));
            AssertBoxesFollowMasks(jittered);
            Assert.All(jittered.Boxes, b => Assert.True(b.X1 >= 0 && b.Y1 >= 0 && b.X2 <= s.Width && b.Y2 <= s.Height && b.Area > 0));
        }
    }

    [Fact]
    public void ScaleJitterScalesBoxes()
    {
        var s = Sample(2);
        // Factor exactly 0.5 with no offset: the image shrinks into the top-left quarter, padding elsewhere.
        var half = Augment.Resample(s, s.Width, s.Height, 2f, 0f, 2f, 0f);
        for (int k = 0; k < s.Boxes.Length; k++)
            Assert.Equal(new Box(s.Boxes[k].X1 / 2, s.Boxes[k].Y1 / 2, s.Boxes[k].X2 / 2, s.Boxes[k].Y2 / 2), half.Boxes[k]);
        Assert.Equal(ImageSample.Ignore, half.Semantic![s.Width * s.Height - 1]);
        Assert.Equal(0.5f, half.Image[s.Width * s.Height - 1]);
    }

    [Fact]
    public void ColorJitterTouchesOnlyTheImageAndIsDeterministic()
    {
        var s = Sample(3);
        var a = Augment.ColorJitter(s, new SceneRandom(42));
        var b = Augment.ColorJitter(s, new SceneRandom(42));
        var c = Augment.ColorJitter(s, new SceneRandom(43));
        Assert.Equal(a.Image, b.Image);
        Assert.NotEqual(a.Image, c.Image);
        Assert.NotEqual(s.Image, a.Image);
        Assert.Same(s.Instance, a.Instance);
        Assert.Equal(s.Boxes, a.Boxes);
        Assert.All(a.Image, v => Assert.InRange(v, 0f, 1f));
    }

    [Fact]
    public void SameSeedSameCrop()
    {
        var s = Sample(4);
        var a = Augment.RandomResizedCrop(s, new SceneRandom(9), 32);
        var b = Augment.RandomResizedCrop(s, new SceneRandom(9), 32);
        Assert.Equal(a.Image, b.Image);
        Assert.Equal(a.Boxes, b.Boxes);
    }
}
