using System;
using System.Collections.Generic;
using System.Threading;
using VirtualNetworks.Backends;

namespace VirtualNetworks.Planning
{
    /// <summary>
    /// Kinds of plan steps. A deployment applies lab hosts and physical links first (CreateLabHost, CreatePhysicalLink),
    /// then RemoveLink, RemoveRouter, CreateRouter, CreateLink (each followed by its SetLinkState when it is declared disabled),
    /// SetLinkBandwidth and SetLinkState, ConfigureRouter, StartRouter; a
    /// removal applies RemoveLink, RemoveRouter, then RemovePhysicalLink, RemoveLabHost. New values are added at the
    /// end so the numbers stay stable.
    /// </summary>
    public enum PlanAction
    {
        RemoveLink,
        RemoveRouter,
        CreateRouter,
        CreateLink,
        SetLinkBandwidth,
        ConfigureRouter,
        StartRouter,
        /// <summary>Create a lab host (backends with <see cref="ILabHostManager"/>).</summary>
        CreateLabHost,
        /// <summary>Create the physical link between two hosts (backends with <see cref="ILabHostManager"/>).</summary>
        CreatePhysicalLink,
        RemovePhysicalLink,
        RemoveLabHost,
        /// <summary>Disable or enable a link (backends with <see cref="ILinkStateControl"/>); right after a CreateLink, or with the updates.</summary>
        SetLinkState,
    }

    /// <summary>
    /// One step of a plan. <see cref="Target"/> and <see cref="Description"/> are exactly what ShouldProcess shows, so
    /// <c>-WhatIf</c> prints the real plan.
    /// </summary>
    public sealed class PlanStep
    {
        internal PlanStep(PlanAction action, string target, string description, Action<IVirtualizationBackend, CancellationToken> run)
        {
            Action = action; Target = target; Description = description; Run = run;
        }

        /// <summary>1-based position in the plan.</summary>
        public int Number { get; internal set; }
        public PlanAction Action { get; }
        /// <summary>The router, link, host or physical link ("a--b") the step changes.</summary>
        public string Target { get; }
        /// <summary>Human description of the change ("Create virtual router (image router, 1 CPU, 128 MB)").</summary>
        public string Description { get; }
        internal Action<IVirtualizationBackend, CancellationToken> Run { get; }
        /// <summary>The router image a CreateRouter or StartRouter step boots (null for other steps).</summary>
        public string? Image { get; internal set; }
        /// <summary>The host a CreateRouter or StartRouter step runs the router on ("" = the local machine; null for other steps).</summary>
        public string? ComputerName { get; internal set; }

        public override string ToString() => $"{Number}. {Description} on '{Target}'";
    }

    /// <summary>An ordered list of steps that takes observed state to desired state.</summary>
    public sealed class DeploymentPlan
    {
        public List<PlanStep> Steps { get; } = new List<PlanStep>();
        /// <summary>Differences the plan does not change (e.g. memory of an existing router), for the user to see.</summary>
        public List<string> Warnings { get; } = new List<string>();
        public TopologySpec? Desired { get; set; }
        public int ChangeCount => Steps.Count;

        internal void Add(PlanStep step)
        {
            step.Number = Steps.Count + 1;
            Steps.Add(step);
        }
    }

    /// <summary>Receives plan execution events on the calling (pipeline) thread.</summary>
    public interface IPlanObserver
    {
        /// <summary>Asked before each step; false skips it (-WhatIf / declined -Confirm).</summary>
        bool ShouldRun(PlanStep step);
        /// <summary>Called before a step runs.</summary>
        void OnStepStarting(PlanStep step, int index, int count);
    }

    /// <summary>What happened when a plan was applied.</summary>
    public sealed class ApplyResult
    {
        public List<PlanStep> Completed { get; } = new List<PlanStep>();
        public List<PlanStep> Skipped { get; } = new List<PlanStep>();
        public List<PlanStep> NotAttempted { get; } = new List<PlanStep>();
        /// <summary>The (first) step that failed.</summary>
        public PlanStep? Failed { get; set; }
        /// <summary>The exception of <see cref="Failed"/>.</summary>
        public Exception? Error { get; set; }
        /// <summary>
        /// Steps run together with <see cref="Failed"/> (router starts handed to the backend as one batch) that failed as
        /// well, with their exceptions; empty otherwise. The exception's message names every one of them.
        /// </summary>
        public List<KeyValuePair<PlanStep, Exception>> OtherFailures { get; } = new List<KeyValuePair<PlanStep, Exception>>();
        public bool Canceled { get; set; }
        public bool Success => Failed == null && !Canceled;
    }

    /// <summary>Thrown when a step fails; carries what was and was not done. Re-running the same deploy converges.</summary>
    [Serializable]
    public sealed class PlanApplyException : VirtualNetworksException
    {
        public PlanApplyException(ApplyResult result, string message, Exception? inner)
            : base(ErrorIds.PlanStepFailed, (inner as VirtualNetworksException)?.Kind ?? ErrorKind.NotSpecified,
                   result.Failed?.Target, message, inner)
        {
            Result = result;
        }

        public ApplyResult Result { get; }
    }
}
