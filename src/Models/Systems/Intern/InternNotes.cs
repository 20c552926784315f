namespace Tessera.Models.Systems.Intern;

/// <summary>The fixed part of the INTERN page: the choices the paper leaves open at our scale and what is cut.</summary>
internal static class InternNotes
{
    public const string Text = """
        ## Choices where the paper leaves details open (ours, named in the code's doc comments)

        - **MetaNet-lite.** Stem conv 3x3 at stride 1, each stage entered by a 3x3 stride-2 conv-BN-ReLU, so C2..C5 sit at strides 2/4/8/16 of a 32 px image (the paper's 4..32 would leave C5 one pixel). Conv GOP = MBConv (1x1 expand x2, 3x3 depthwise, 1x1 linear projection, residual); transformer GOP = pre-norm ViT block over the pixels as tokens, 8-channel heads, local 2x2 windows in C4 and global attention in C5, no position embedding (the conv entry is the only position signal). ResNet remains available to the other systems; INTERN's arms all use MetaNet-lite.
        - **Up-A-G.** Image views: random square crop of 60-100% of the side, flip, brightness/contrast jitter; text views: 10% word dropout, and the MLM-masked caption (15% of words, BERT 80/10/10) whose pooled End-token feature is the second text view and whose token features feed the MLM head. STS uses the caption's nearest neighbour (cosine) in a FIFO queue of earlier text features as the positive for both image views (the caption itself while the queue is empty). The logit scale is its own AdamW group at 0.1x lr with no weight decay.
        - **Loss-spike guard.** Threshold = spike ratio x EMA (0.9) of accepted losses, armed after 10 accepted steps; a trigger restores weights and buffers of 10 steps earlier (optimiser moments kept) and skips the update.
        - **Up-A-L.** Proposals are random squares inside the region both views share (8 per image), the same pyramid level in both views drawn with 0.1/0.2/0.3/0.4; box head = flatten → Linear → ReLU, projector and predictor are 2-layer MLPs, target momentum 0.99. Up-A-L's neck is trained and its curve reported; Down-A heads start fresh (as for every arm), so it does not enter the table.
        - **Up-E.** Sampling weights = the sizes of the real data sets each world source stands in for (ImageNet 1.28 M, iNat-mini 0.5 M, Places 1.8 M; COCO 118 k, Objects365 1.7 M; ADE20K 20 k, COCO-Stuff 118 k). The detection expert's FPN is in its trunk and shared by both detection sources (each Faster R-CNN-lite keeps the catalog head's own light lateral FPN over it); the segmentation expert's last stage is atrous (stride 1, dilation 2) under a DeepLab-lite ASPP head (rates 1/2/3) per source.
        - **Up-G.** KTM into stage d of branch t: the other branches' stage 1..d outputs (detached) resized (average pooling down, nearest up), 1x1 conv each, summed, BN + ReLU, 1x1 output conv initialised at zero (a fresh Up-G is exactly hard sharing). Unified outputs: each branch's fused C5 plus a zero-initialised 1x1 conv of the other branches' C5s (a linear head on the concatenated C5s that starts as the expert's own), so every Up-E head loads unchanged. Each branch keeps its own BNs, synchronised over the SIMT devices.
        - **Down-A.** Frozen backbone (running BN statistics). Classification = linear probe on pooled image-wise features; detection, segmentation and depth = a fresh FPN-based head trained on the patch-wise (detection) or pixel-wise (segmentation, depth) maps. Detection is scored by AP50: at 32 px the objects are 2-6 pixels and the strict IoUs of mAP are zero for every arm.
        - **MF.** VQ-GAN-lite without the optional patch discriminator; momentum encoder over the whole backbone (m = 0.99), queue 128, τ = 0.2, MoCo weight 0.5; MF and the plain fine-tune share step counts, learning rates and data order.

        ## What is cut (scale, not mechanisms)

        Everything is trained, but tiny: backbones of the size given above, a few hundred steps per stage, 32 px images, three seeds. Levels are far below the paper's; only orderings can be compared, and only where gaps exceed two standard errors. The paper's 20-suite CLS-AVG is three suites here; its VOC/KITTI are down-det, down-seg and down-depth of the world.
        """;
}
