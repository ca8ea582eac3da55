// Policy pack entry point: `pulumi preview --policy-pack policy` (install first: npm ci --prefix policy).
// Tests import ./policies, never this file: constructing a PolicyPack starts the analyzer server.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("coinpilot", { policies });
