"""Host-owned single-image restoration: image sets, degradations, metrics, the restore context.

Everything here is shared by every restorer so their numbers can share a table: the bicubic
operator (MATLAB ``imresize``), the noise and masks, PSNR/SSIM with the field's conventions.
"""
