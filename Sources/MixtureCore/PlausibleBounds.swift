/// Upper bounds on sizes read from files, far above any real model's (the largest released models
/// have ~130 layers, hidden sizes near 16k, vocabularies near 1M, a few hundred experts). A number past
/// one of these is a corrupted or hostile file: it is refused with an error naming the field before
/// anything is allocated from it, instead of ending in a failed multi-terabyte allocation.
public enum PlausibleBounds {
    public static let layers = 4096
    public static let hiddenSize = 1 << 18
    public static let intermediateSize = 1 << 20
    public static let heads = 1 << 14
    public static let headDimension = 1 << 14
    public static let experts = 1 << 16
    public static let vocabulary = 1 << 24
    public static let positions = 1 << 24
    /// One JSON Lines record on standard input.
    public static let lineBytes = 64 << 20
}
