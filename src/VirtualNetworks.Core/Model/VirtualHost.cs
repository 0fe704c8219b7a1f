namespace VirtualNetworks
{
    /// <summary>A real machine (or a lab host standing in for one) that runs virtual routers.</summary>
    public sealed class VirtualHost
    {
        public string Name { get; set; } = "";
        /// <summary>Backend kind used for this host ("Linux", "HyperV", ...).</summary>
        public string Kind { get; set; } = "";
        public override string ToString() => Name;
    }
}
