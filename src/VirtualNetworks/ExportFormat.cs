namespace VirtualNetworks.Commands
{
    /// <summary>What Export-VirtualNetwork writes.</summary>
    public enum ExportFormat
    {
        /// <summary>A topology file that Deploy-VirtualNetwork reads back.</summary>
        Json,
        /// <summary>A Graphviz DOT graph.</summary>
        Dot,
        /// <summary>A Mermaid flowchart.</summary>
        Mermaid,
        /// <summary>An SVG picture, rendered by Graphviz's dot program.</summary>
        Svg,
    }
}
