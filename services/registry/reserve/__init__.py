"""The craftsman reserve (百万工匠后备人才库): nominations, cultivation plans, progress, targets."""
