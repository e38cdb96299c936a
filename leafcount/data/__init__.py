"""Reading and writing images and label images; synthetic rosettes; augmentation."""
