namespace Tessera.Models.Systems.Eva;

/// <summary>The choices the paper leaves open, as printed at the end of the results page.</summary>
internal static class EvaNotes
{
    public const string Text = """
        ## Choices the paper leaves open (ours)

        - Teacher: a CLIP trained here on the world's captions (the paper uses OpenAI CLIP-L/14); its patch features are the image tower's final LayerNorm'd patch tokens; towers are mean-pooled (no cls token), the text tower is causal and pooled at the End token.
        - Zero-shot prompts use caption words only ("photo" is not in the caption vocabulary), ensembled over the 12 colour words: "a {colour} {shape}".
        - Student: the backbone's final LayerNorm is EVA's "normalise" before the Linear projection to the teacher's width; the student is wider and deeper than the teacher's image tower, as EVA-g (1.0B) is larger than CLIP-L (0.3B).
        - Block masking: BEiT's generator with blocks of at least 4 patches on the 8×8 grid (BEiT: 16 on 14×14); the mask token replaces the patch embedding before the position embedding.
        - Pre-training images: the captions source's images (no captions), as EVA pre-trains on image-text data sets' images; each length is a separate run with its own cosine schedule, MIM and FD from the same initialisation, image stream and (for MIM) mask stream.
        - Fine-tuning: no augmentation, label smoothing or EMA; layer decay 0.75 over 3 blocks; segmentation by a ViTDet-style simple feature pyramid over the last map. Every arm of a seed sees the same fine-tuning data order and head initialisation.
        - EVA-CLIP: both arms start from the frozen teacher's text tower, text projection and logit scale and from one fresh image projection, so the image tower's initialisation is the only difference (the paper initialises the text tower from CLIP-L and compares with OpenCLIP trained from scratch).
        - Weight decay skips vectors (gains, biases), the logit scale and the position embedding and tokens (timm/OpenCLIP's exclusions).
        """;
}
