package dev.fathom.cli;

public final class FathomCli {
    public static void main(String[] args) {
        System.out.println("fathom");
    }
}
