namespace VirtualNetworks.HyperV.Simulator { internal static class Placeholder { } }
