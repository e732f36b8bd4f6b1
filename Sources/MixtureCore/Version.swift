public enum MixtureCoreVersion { public static let string = "0.1.0" }
